using System.Net;
using System.Text.Json;
using MiniDocker.Linux;

namespace MiniDocker.Network;

/// <summary>
/// Networks and endpoints persisted under &lt;stateRoot&gt;/networks/:
/// <c>&lt;name&gt;.json</c> per network, <c>endpoints/&lt;network&gt;/&lt;containerId&gt;.json</c> per endpoint and
/// <c>ipam/</c> (owned by <see cref="Ipam"/>). Every change happens under an exclusive flock on
/// <c>networks/.lock</c> and every file is replaced atomically, so concurrent CLI invocations never see or produce a
/// half-written file, and two "network create" calls cannot both pass the overlap check.
/// Validation happens before anything is written: a rejected request leaves no trace.
/// </summary>
public sealed partial class NetworkStore
{
    public const string DefaultNetworkName = "bridge";
    public const string DefaultBridgeName = "minidocker0";
    public const string DefaultStateRoot = "/var/lib/minidocker";

    /// <summary>
    /// The default network's bridge: minidocker0 for the default state root; for any other --root a name of its
    /// own (mdk0- and a hash of the root), so tests, labs and benchmarks with separate roots can run side by side
    /// without fighting over one bridge.
    /// </summary>
    public string DefaultBridge { get; }

    /// <summary>What tells this state root's host objects from another's: "" for the default root, else 8 hex digits
    /// of its path (in the default bridge's name and in firewall tags).</summary>
    public static string ScopeOf(string stateRoot)
    {
        string full = Path.GetFullPath(stateRoot).TrimEnd('/');
        return full == DefaultStateRoot ? "" : InterfaceNames.Hex8(full);
    }
    public const string BridgeDriver = "bridge";
    public const string BridgeNameOption = "bridge-name";

    /// <summary>Where the default network goes: 172.29.0.0/16 first, then the other 172.16/12 /16s, like Docker's pool.</summary>
    private static readonly int[] DefaultSecondOctets = [29, 30, 31, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17];

    private static readonly (Subnet Range, string What)[] ReservedRanges =
    [
        (Subnet.Parse("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
        (Subnet.Parse("127.0.0.0/8"), "loopback (127.0.0.0/8)"),
        (Subnet.Parse("169.254.0.0/16"), "link-local (169.254.0.0/16)"),
        (Subnet.Parse("224.0.0.0/3"), "multicast and reserved (224.0.0.0/3)"),
    ];

    private readonly string _root;
    private readonly Ipam _ipam;

    public NetworkStore(string stateRoot)
    {
        _root = Path.Combine(stateRoot, "networks");
        _ipam = new Ipam(stateRoot);
        string scope = ScopeOf(stateRoot);
        DefaultBridge = scope.Length == 0 ? DefaultBridgeName : "mdk0-" + scope;
    }

    /// <summary>
    /// Validates and persists a new network. <paramref name="hostRoutes"/> are the host's IPv4 routes
    /// (destination, prefix length); the default route is ignored, any other overlap is refused.
    /// </summary>
    public NetworkRecord Create(
        string name,
        string subnet,
        string? gateway,
        IReadOnlyList<(IPAddress Destination, int Prefix)> hostRoutes,
        string driver = BridgeDriver,
        IReadOnlyDictionary<string, string>? options = null,
        NetworkSpec? spec = null,
        IReadOnlyList<(IPAddress Destination, int Prefix)>? hostRoutes6 = null)
    {
        NameRules.ValidateNetworkName(name);
        if (name == DefaultNetworkName)
            throw new NetworkException($"network name {DefaultNetworkName} is reserved for the default network");
        // As Docker: `--net host` and `--net none` are modes, and a network of that name could never be joined.
        if (name is "host" or "none")
            throw new NetworkException($"operation is not permitted on predefined {name} network");
        if (driver != BridgeDriver) return CreateLowerLinkNetwork(name, subnet, gateway, driver, options, spec);
        options ??= new Dictionary<string, string>();
        spec ??= new NetworkSpec();
        var parsed = NetworkOptions.Parse(options);
        (Subnet6 Subnet, IPAddress Gateway)? ipv6 = ParseIpv6(spec);
        // `--ipv6 --subnet fd00:1::/64` alone: the IPv4 side comes from the pool, as in Docker (under the lock, below).
        Subnet? parsedSubnet = subnet.Length == 0 ? null : ParseNetworkSubnet(subnet);
        IPAddress? parsedGateway = parsedSubnet is { } given ? ParseGateway(gateway, given) : null;
        if (parsedSubnet is null && gateway is not null)
            throw new NetworkException($"gateway {gateway} needs an IPv4 --subnet");
        if (spec.IpRange is not null && parsedSubnet is null)
            throw new NetworkException("--ip-range needs an IPv4 --subnet");
        Subnet? ipRange = parsedSubnet is { } forRange ? NetworkOptions.ParseIpRange(spec.IpRange, forRange) : null;
        NetworkOptions.ValidateLabels(spec.Labels);
        string? requestedBridge = parsed.BridgeName;
        if (requestedBridge is not null)
        {
            if (!InterfaceNames.IsValid(requestedBridge))
                throw new NetworkException(
                    $"invalid bridge name '{requestedBridge}': must be 1-{InterfaceNames.MaxLength} bytes of [a-zA-Z0-9_.-]");
            if (requestedBridge == DefaultBridgeName)
                throw new NetworkException($"bridge name {DefaultBridgeName} is reserved for the default network '{DefaultNetworkName}'");
        }

        using FileLock _ = LockStore();
        if (ipv6 is { } v6)
        {
            if (ReadNetworks().FirstOrDefault(n => n.Subnet6 is { } other && other.Overlaps(v6.Subnet)) is { } clash)
                throw new NetworkException($"IPv6 subnet {v6.Subnet} overlaps IPv6 subnet {clash.Subnet6} of network {clash.Name}");
            foreach (var (destination, prefix) in hostRoutes6 ?? [])
            {
                // The default route and link-local/multicast routes every interface has are no conflict.
                if (prefix == 0 || destination.IsIPv6LinkLocal || destination.IsIPv6Multicast) continue;
                Subnet6 route = Subnet6.Containing(destination, prefix);
                if (route.Overlaps(v6.Subnet))
                    throw new NetworkException($"IPv6 subnet {v6.Subnet} overlaps host route {route}");
            }
        }
        Subnet ipv4 = parsedSubnet ?? FreePoolSubnet(hostRoutes);
        return CreateLocked(name, ipv4, parsedGateway ?? ipv4.FirstHost, requestedBridge, hostRoutes,
            new Dictionary<string, string>(options),
            r => r with
            {
                Internal = spec.Internal,
                IpRange = ipRange,
                Labels = spec.Labels is { Count: > 0 } l ? l : null,
                Mtu = parsed.Mtu,
                Subnet6 = ipv6?.Subnet,
                Gateway6 = ipv6?.Gateway
            });
    }

    /// <summary>`--ipv6` with its IPv6 subnet and gateway, checked before anything is written.</summary>
    private static (Subnet6 Subnet, IPAddress Gateway)? ParseIpv6(NetworkSpec spec)
    {
        if (!spec.EnableIPv6)
        {
            if (spec.Subnet6 is not null)
                throw new NetworkException($"IPv6 subnet {spec.Subnet6} given without --ipv6: add --ipv6 to make a dual-stack network");
            if (spec.Gateway6 is not null)
                throw new NetworkException($"IPv6 gateway {spec.Gateway6} given without --ipv6");
            return null;
        }
        if (spec.Subnet6 is null)
            throw new NetworkException("--ipv6 needs an IPv6 --subnet, e.g. --subnet fd00:1::/64 (there is no default IPv6 pool)");
        Subnet6 subnet = Subnet6.Parse(spec.Subnet6);
        if (subnet.Prefix > Subnet6.LongestPrefix)
            throw new NetworkException($"invalid IPv6 subnet '{spec.Subnet6}': prefix must be at most /{Subnet6.LongestPrefix} " +
                "(an IPv6 link is a /64: interface identifiers, SLAAC and neighbour discovery assume it, RFC 7421)");
        foreach ((string range, string what) in ReservedRanges6)
        {
            if (Subnet6.Parse(range).Overlaps(subnet))
                throw new NetworkException($"invalid IPv6 subnet '{spec.Subnet6}': overlaps the {what} range ({range})");
        }
        IPAddress gateway = subnet.FirstHost;
        if (spec.Gateway6 is not null)
        {
            gateway = Ipv6.Parse(spec.Gateway6, "IPv6 gateway");
            if (!subnet.Contains(gateway))
                throw new NetworkException($"IPv6 gateway {gateway} is outside subnet {subnet}");
            if (gateway.Equals(subnet.Network))
                throw new NetworkException($"IPv6 gateway {gateway} is the subnet-router anycast address of {subnet}");
        }
        return (subnet, gateway);
    }

    private static readonly (string Range, string What)[] ReservedRanges6 =
    [
        ("::/8", "unspecified, loopback and IPv4-mapped"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    ];

    /// <summary>An IPv4 subnet for a network given only an IPv6 one: Docker's local pool, 172.18-31.0.0/16, then
    /// 192.168.0-240.0/20, the first that overlaps no network and no host route. The caller holds the store lock.</summary>
    private Subnet FreePoolSubnet(IReadOnlyList<(IPAddress Destination, int Prefix)> hostRoutes)
    {
        var others = ReadNetworks();
        var candidates = Enumerable.Range(18, 14).Select(o => Subnet.Parse($"172.{o}.0.0/16"))
            .Concat(Enumerable.Range(0, 16).Select(i => Subnet.Parse($"192.168.{i * 16}.0/20")));
        foreach (Subnet candidate in candidates)
        {
            if (!others.Any(n => n.Subnet.Overlaps(candidate)) && !RoutesOverlapping(candidate, hostRoutes).Any())
                return candidate;
        }
        throw new NetworkException("no free IPv4 subnet in the pool (172.18-31.0.0/16, 192.168.0.0/16): give one with --subnet");
    }

    /// <summary>
    /// Returns the default network "bridge" (bridge minidocker0), creating it on first use on 172.29.0.0/16, or on
    /// the next free /16 of 172.16.0.0/12 when that one overlaps a host route or another network.
    /// </summary>
    public NetworkRecord EnsureDefault(IReadOnlyList<(IPAddress Destination, int Prefix)> hostRoutes)
    {
        using FileLock _ = LockStore();
        if (Find(DefaultNetworkName) is { } existing)
            return existing;
        List<NetworkRecord> others = ReadNetworks();
        foreach (int octet in DefaultSecondOctets)
        {
            Subnet candidate = Subnet.Parse($"172.{octet}.0.0/16");
            if (others.Any(n => n.Subnet.Overlaps(candidate)) || RoutesOverlapping(candidate, hostRoutes).Any())
                continue;
            return CreateLocked(DefaultNetworkName, candidate, candidate.FirstHost, DefaultBridge, hostRoutes,
                new Dictionary<string, string> { [BridgeNameOption] = DefaultBridge });
        }
        throw new NetworkException(
            "no free subnet for the default network: every 172.17-31.0.0/16 overlaps another network or a host route");
    }

    public NetworkRecord? Find(string name)
    {
        NameRules.ValidateNetworkName(name);
        string path = NetworkPath(name);
        return File.Exists(path) ? StateJson.Read(path, NetworkJson.Default.NetworkRecord) : null;
    }

    public NetworkRecord Get(string name) =>
        Find(name) ?? throw new NetworkException($"network {name} not found");

    /// <summary>All networks, ordered by name.</summary>
    public IReadOnlyList<NetworkRecord> List() => ReadNetworks();

    /// <summary>
    /// Deletes a network and its IPAM state (the default one too: it is re-created on next use). Refused while containers are attached,
    /// because their veths, addresses and firewall rules still depend on it.
    /// </summary>
    public void Remove(string name)
    {
        NameRules.ValidateNetworkName(name);
        using FileLock _ = LockStore();
        Get(name);
        IReadOnlyList<EndpointRecord> attached = Endpoints(name);
        if (attached.Count > 0)
            throw new NetworkException(
                $"cannot remove network {name}: containers still attached: {string.Join(", ", attached.Select(e => e.ContainerId))}");
        // IPAM first: if we die in between, the network still exists and "network rm" can simply be repeated.
        _ipam.DeleteNetwork(name);
        FailPoint.Check("rm-ipam");
        string endpointsDirectory = EndpointsDirectory(name);
        if (Directory.Exists(endpointsDirectory))
            Directory.Delete(endpointsDirectory, recursive: true);
        AtomicFile.Delete(NetworkPath(name), fsyncDirectory: true);
        FailPoint.Check("rm-record");
        AtomicFile.Delete(RemovingPath(name), fsyncDirectory: true);
    }

    /// <summary>
    /// The first step of removing a network: refused while containers are attached, else records that the network
    /// is going (a marker file beside the record). From then on no container may join it, and whatever a crash leaves
    /// of the removal is finished by the next `network rm`, `network reconcile` or `system prune`; the record
    /// itself goes last (<see cref="Remove"/>).
    /// </summary>
    public NetworkRecord MarkRemoving(string name)
    {
        NameRules.ValidateNetworkName(name);
        using FileLock _ = LockStore();
        NetworkRecord record = Get(name);
        IReadOnlyList<EndpointRecord> attached = Endpoints(name);
        if (attached.Count > 0)
            throw new NetworkException(
                $"cannot remove network {name}: {attached.Count} container(s) still attached ({string.Join(", ", attached.Select(e => e.ContainerId[..Math.Min(12, e.ContainerId.Length)]))})");
        if (!File.Exists(RemovingPath(name)))
            AtomicFile.Write(RemovingPath(name), [], fsyncDirectory: true);
        return record;
    }

    /// <summary>Whether a `network rm` of this network has begun (and may not have finished).</summary>
    public bool IsRemoving(string name) => File.Exists(RemovingPath(name));

    /// <summary>Networks whose removal has begun, with their record; markers whose record is gone already (the removal
    /// was killed just before its very last step) are deleted on the way.</summary>
    public IReadOnlyList<NetworkRecord> PendingRemovals()
    {
        if (!Directory.Exists(_root)) return [];
        var pending = new List<NetworkRecord>();
        foreach (string marker in Directory.GetFiles(_root, "*" + RemovingSuffix))
        {
            string name = Path.GetFileName(marker)[..^RemovingSuffix.Length];
            if (!NameRulesAllow(name)) continue;
            if (ReadIfPresent(NetworkPath(name), NetworkJson.Default.NetworkRecord) is { } record) pending.Add(record);
            else
            {
                using FileLock _ = LockStore();
                if (!File.Exists(NetworkPath(name))) AtomicFile.Delete(marker, fsyncDirectory: true);
            }
        }
        return pending;
    }

    private static bool NameRulesAllow(string name)
    {
        try { NameRules.ValidateNetworkName(name); return true; }
        catch (NetworkException) { return false; }
    }

    /// <summary>
    /// Records that <paramref name="containerId"/> is attached to <paramref name="network"/> with address
    /// <paramref name="ip"/> (allocated by <see cref="Ipam"/>), choosing a host veth name no other endpoint uses.
    /// </summary>
    public EndpointRecord Attach(string network, string containerId, IPAddress ip, IReadOnlyList<PortMapping> ports,
        string containerIfName = "eth0", string? name = null, IReadOnlyList<string>? aliases = null, IPAddress? ipv6 = null)
    {
        NameRules.ValidateContainerId(containerId);
        using FileLock _ = LockStore();
        NetworkRecord record = Get(network);
        if (IsRemoving(network))
            throw new NetworkException($"network {network} is being removed");
        if (!record.Subnet.Contains(ip))
            throw new NetworkException($"address {ip} is outside subnet {record.Subnet} of network {network}");
        string path = EndpointPath(network, containerId);
        if (File.Exists(path))
            throw new NetworkException($"container {containerId} is already attached to network {network}");

        var usedVeths = Endpoints(null).Select(e => e.HostVeth).ToHashSet(StringComparer.Ordinal);
        string hostVeth = InterfaceNames.HostVeth(containerId, network);
        for (int attempt = 1; usedVeths.Contains(hostVeth); attempt++)
            hostVeth = InterfaceNames.HostVeth(containerId, network, attempt);

        var endpoint = new EndpointRecord(containerId, network, hostVeth, containerIfName, ip, MacFor(ip), ports,
            name, aliases is { Count: > 0 } ? aliases : null, ipv6);
        StateJson.Write(path, endpoint, NetworkJson.Default.EndpointRecord);
        return endpoint;
    }

    /// <summary>Forgets an endpoint. Returns false when it was not recorded, so cleanup paths may call it twice.</summary>
    public bool Detach(string network, string containerId)
    {
        NameRules.ValidateNetworkName(network);
        NameRules.ValidateContainerId(containerId);
        using FileLock _ = LockStore();
        string path = EndpointPath(network, containerId);
        if (!File.Exists(path))
            return false;
        AtomicFile.Delete(path, fsyncDirectory: true);
        return true;
    }

    /// <summary>Endpoints of one network, or of all networks when <paramref name="network"/> is null.</summary>
    public IReadOnlyList<EndpointRecord> Endpoints(string? network)
    {
        IEnumerable<string> directories;
        if (network is not null)
        {
            NameRules.ValidateNetworkName(network);
            directories = [EndpointsDirectory(network)];
        }
        else
        {
            string all = Path.Combine(_root, "endpoints");
            directories = Directory.Exists(all) ? Directory.GetDirectories(all) : [];
        }
        return directories
            .Where(Directory.Exists)
            .SelectMany(StateFiles)
            .Select(path => ReadIfPresent(path, NetworkJson.Default.EndpointRecord))
            .OfType<EndpointRecord>()
            .OrderBy(e => e.Network, StringComparer.Ordinal)
            .ThenBy(e => e.ContainerId, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Docker's scheme: 02:42 followed by the four bytes of the IPv4 address, so the MAC is stable per address.</summary>
    public static string MacFor(IPAddress ip)
    {
        byte[] bytes = ip.GetAddressBytes();
        if (bytes.Length != 4)
            throw new NetworkException($"address {ip} is not IPv4");
        return $"02:42:{bytes[0]:x2}:{bytes[1]:x2}:{bytes[2]:x2}:{bytes[3]:x2}";
    }

    private NetworkRecord CreateLocked(
        string name,
        Subnet subnet,
        IPAddress gateway,
        string? requestedBridge,
        IReadOnlyList<(IPAddress Destination, int Prefix)> hostRoutes,
        Dictionary<string, string> options,
        Func<NetworkRecord, NetworkRecord>? complete = null)
    {
        string path = NetworkPath(name);
        if (File.Exists(path))
            throw new NetworkException($"network with name {name} already exists");
        List<NetworkRecord> others = ReadNetworks();
        if (others.FirstOrDefault(n => n.Subnet.Overlaps(subnet)) is { } clash)
            throw new NetworkException($"subnet {subnet} overlaps subnet {clash.Subnet} of network {clash.Name}");
        foreach (Subnet route in RoutesOverlapping(subnet, hostRoutes))
            throw new NetworkException($"subnet {subnet} overlaps host route {route}");

        string bridge;
        if (requestedBridge is not null)
        {
            if (others.FirstOrDefault(n => n.Bridge == requestedBridge) is { } user)
                throw new NetworkException($"bridge name {requestedBridge} is already used by network {user.Name}");
            bridge = requestedBridge;
        }
        else
        {
            bridge = InterfaceNames.DefaultBridge(name);
            for (int attempt = 1; others.Any(n => n.Bridge == bridge); attempt++)
                bridge = InterfaceNames.DefaultBridge(name, attempt);
        }

        var record = new NetworkRecord(name, BridgeDriver, subnet, gateway, bridge, DateTimeOffset.UtcNow, options);
        if (complete is not null) record = complete(record);
        // A crash between "network rm" deleting IPAM state and the network file could leave allocations behind;
        // a network being created has none by definition.
        _ipam.DeleteNetwork(name);
        // The marker of a removal killed after it had deleted the record: that network is gone, this one is new.
        AtomicFile.Delete(RemovingPath(name), fsyncDirectory: true);
        StateJson.Write(path, record, NetworkJson.Default.NetworkRecord);
        return record;
    }

    private static Subnet ParseNetworkSubnet(string text)
    {
        Subnet subnet = Subnet.Parse(text);
        if (subnet.Prefix > 30)
            throw new NetworkException(
                $"invalid subnet '{text}': prefix must be at most /30 to leave room for a gateway and a container");
        foreach ((Subnet range, string what) in ReservedRanges)
        {
            if (range.Overlaps(subnet))
                throw new NetworkException($"invalid subnet '{text}': overlaps the {what} range");
        }
        return subnet;
    }

    private static IPAddress ParseGateway(string? text, Subnet subnet)
    {
        if (text is null)
            return subnet.FirstHost;
        IPAddress gateway = Ipv4.Parse(text, "gateway");
        if (!subnet.Contains(gateway))
            throw new NetworkException($"gateway {gateway} is outside subnet {subnet}");
        if (gateway.Equals(subnet.Network))
            throw new NetworkException($"gateway {gateway} is the network address of subnet {subnet}");
        if (gateway.Equals(subnet.Broadcast))
            throw new NetworkException($"gateway {gateway} is the broadcast address of subnet {subnet}");
        return gateway;
    }

    private static IEnumerable<Subnet> RoutesOverlapping(
        Subnet subnet, IReadOnlyList<(IPAddress Destination, int Prefix)> hostRoutes) =>
        hostRoutes
            .Where(r => r.Prefix > 0 && r.Destination.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            .Select(r => Subnet.Containing(r.Destination, r.Prefix))
            .Where(subnet.Overlaps);

    private List<NetworkRecord> ReadNetworks() =>
        (Directory.Exists(_root) ? StateFiles(_root) : [])
            .Select(path => ReadIfPresent(path, NetworkJson.Default.NetworkRecord))
            .OfType<NetworkRecord>()
            .OrderBy(n => n.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>Readers take no lock: a file listed a moment ago may have been removed by another process since
    /// (a container detaching), which is not an error but a record that no longer exists.</summary>
    private static T? ReadIfPresent<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) where T : class
    {
        try { return StateJson.Read(path, typeInfo); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    /// <summary>The *.json files of a directory; temp files of an in-flight atomic write start with '.' and are skipped.</summary>
    private static IEnumerable<string> StateFiles(string directory) =>
        Directory.GetFiles(directory, "*.json").Where(p => !Path.GetFileName(p).StartsWith('.'));

    // Every change passes here: networks/ (records, endpoints, addresses) is made, or tightened, owner-only first.
    private FileLock LockStore() => FileLock.Acquire(Path.Combine(StateRoot.PrivateDirectory(_root), ".lock"));

    private string NetworkPath(string name) => Path.Combine(_root, name + ".json");

    private const string RemovingSuffix = ".removing";

    private string RemovingPath(string name) => Path.Combine(_root, name + RemovingSuffix);

    private string EndpointsDirectory(string network) => Path.Combine(_root, "endpoints", network);

    private string EndpointPath(string network, string containerId)
    {
        NameRules.ValidateNetworkName(network);
        return Path.Combine(EndpointsDirectory(network), containerId + ".json");
    }
}
