using System.Net;
using MiniDocker.Linux;

namespace MiniDocker.Network;

/// <summary>A container's attachment as the runtime needs it: the address to put in /etc/hosts.</summary>
public sealed record Attachment(NetworkRecord Network, EndpointRecord Endpoint);

/// <summary>
/// The network subsystem's one entry point: networks (store + bridge + firewall) and container attachments
/// (IPAM + veth + routes + published ports). It takes a network namespace path to work on and knows nothing about
/// containers beyond their id. Each step registers its undo; a failure at step N undoes N-1..1.
/// </summary>
/// <param name="containerExists">whether a container (full id or 12-digit prefix) still exists: the runtime's answer,
/// for sweeping what crashed containers left.</param>
public sealed class NetworkManager(string stateRoot, IFirewall firewall, Func<string, bool> containerExists, RootRegistry? roots = null)
{
    private readonly NetworkStore _store = new(stateRoot);
    private readonly Ipam _ipam = new(stateRoot);
    private readonly PortProxy _proxies = new(stateRoot);
    private readonly RootRegistry _roots = roots ?? new RootRegistry();
    private readonly string _scope = NetworkStore.ScopeOf(stateRoot);
    private AardvarkDns? _dns;

    /// <summary>This root's name server (aardvark-dns): its configuration and process.</summary>
    public AardvarkDns Dns => _dns ??= new AardvarkDns(_scope, Path.Combine(stateRoot, "networks", ".dns.lock"));

    public IFirewall Firewall => firewall;
    public IReadOnlyList<NetworkRecord> List() => _store.List();

    /// <summary>A network by name. The default network is not made here (`network inspect bridge` on a root where no
    /// container ever joined it is "not found"); only a container joining it makes it.</summary>
    public NetworkRecord Get(string name) => _store.Get(name);
    public IReadOnlyList<EndpointRecord> Endpoints(string? network = null) => _store.Endpoints(network);

    /// <summary>Every endpoint of a state root, read without a manager (no firewall needed): what `ps` shows.</summary>
    public static IReadOnlyList<EndpointRecord> EndpointsOf(string stateRoot) => new NetworkStore(stateRoot).Endpoints(null);

    /// <summary>
    /// `network create`: the record, then the bridge (tagged as ours, with a fixed MAC), then its rules. A failure
    /// undoes exactly what this call made and nothing else: an interface that was there before is never touched.
    /// </summary>
    public NetworkRecord Create(string name, string subnet, string? gateway, string driver, IReadOnlyDictionary<string, string> options,
        NetworkSpec? spec = null)
    {
        // The root's network lock, held from the record to the rules: a concurrent reconcile, which removes rules and
        // bridges of this root that no record names, sees either none of this network or all of it.
        using var _ = LockRules();
        var record = _store.Create(name, subnet, gateway, BridgeDriver.HostRoutes(), driver, options, spec,
            spec is { EnableIPv6: true } ? BridgeDriver.HostRoutes6() : null);
        FailPoint.Check("network-create.recorded");
        RealiseNew(record, checkBridgeNameFree: true);
        FailPoint.Check("network-create.done");
        return record;
    }

    /// <summary>The default network (Docker's "bridge"), made when a container first joins it.</summary>
    private NetworkRecord EnsureDefault()
    {
        var existing = _store.Find(NetworkStore.DefaultNetworkName);
        if (existing is not null && !_store.IsRemoving(existing.Name)) return existing;
        using var _ = LockRules();
        existing = _store.Find(NetworkStore.DefaultNetworkName);
        if (existing is not null && _store.IsRemoving(existing.Name)) FinishRemove(existing); // a killed `network rm bridge`
        else if (existing is not null) return existing;
        var record = _store.EnsureDefault(BridgeDriver.HostRoutes());
        RealiseNew(record);
        return record;
    }

    /// <summary>Bridge and rules of a network whose record this process has just written; on failure the record and
    /// whatever of the rest this call made are undone, in reverse order.</summary>
    private void RealiseNew(NetworkRecord record, bool checkBridgeNameFree = false)
    {
        bool bridgeCreated = false, rulesTried = false;
        try
        {
            var driver = NetworkDrivers.For(record);
            if (checkBridgeNameFree && driver.HasHostBridge) CheckBridgeNameFree(record);
            _roots.Register(stateRoot); // before the first tagged object, so an orphan sweep can always place it
            driver.CreateNetwork(record, Tag(record), created: () => bridgeCreated = true);
            if (!driver.HasHostBridge) return; // no rules: nothing on the host is its own
            FailPoint.Check("network-firewall");
            rulesTried = true;
            firewall.EnsureNetwork(Rules(record));
        }
        catch
        {
            if (rulesTried) Undo(() => firewall.RemoveNetwork(Rules(record)));
            if (bridgeCreated) Undo(() => NetworkDrivers.For(record).DeleteNetwork(record, Tag(record)));
            Undo(() => _store.Remove(record.Name));
            if (rulesTried && _store.List().Count == 0) Undo(firewall.RemoveIfUnused);
            throw;
        }
    }

    private static void CheckBridgeNameFree(NetworkRecord record)
    {
        // `-o bridge-name=eth0` must not adopt (and later delete) an interface that is not ours.
        using var nl = Netlink.RtNetlink.Open();
        if (nl.GetLink(record.Bridge) is { } link)
            throw new NetworkException($"interface {record.Bridge} already exists{(link.Kind is null ? "" : $" ({link.Kind})")}: choose another bridge-name");
    }

    /// <summary>Bridge and rules for a recorded network; idempotent (after a reboot the bridge is re-created).</summary>
    private void Realise(NetworkRecord record)
    {
        _roots.Register(stateRoot);
        var driver = NetworkDrivers.For(record);
        driver.EnsureNetwork(record, Tag(record));
        if (driver.HasHostBridge) firewall.EnsureNetwork(Rules(record));
    }

    /// <summary>
    /// `network rm`: refused while containers are attached. The removal is recorded first (a marker), then the rules,
    /// the bridge, the IPAM state and last the record go, so a crash at any point leaves the record and marker, from
    /// which `network rm` again, `network reconcile` or `system prune` finish it.
    /// </summary>
    public void Remove(string name)
    {
        using var _ = LockRules();
        // A removal killed after its record went left only its marker: drop it, whatever this call finds.
        _store.PendingRemovals();
        var record = _store.MarkRemoving(name);
        FailPoint.Check("rm-marked");
        FinishRemove(record);
    }

    /// <summary>The steps of a removal after its marker; each is idempotent. The caller holds the network lock.</summary>
    private void FinishRemove(NetworkRecord record)
    {
        var driver = NetworkDrivers.For(record);
        if (driver.HasHostBridge) firewall.RemoveNetwork(Rules(record));
        FailPoint.Check("rm-rules");
        // Our bridge only: one that someone else made under that name meanwhile stays.
        driver.DeleteNetwork(record, Tag(record));
        FailPoint.Check("rm-bridge");
        _store.Remove(record.Name);
        SyncDnsQuietly();
        if (_store.List().Count == 0)
        {
            firewall.RemoveIfUnused();
            // No network, so nothing of this root on the host: nothing for an orphan sweep to place any more.
            _roots.Forget(stateRoot);
        }
    }

    /// <summary>
    /// Connects a container's network namespace to a network: address, veth, eth0 inside, default route, and the
    /// published ports. Host ports are checked (taken by another container or bound by a host process) before the
    /// container starts. On failure everything is released by the same code as <see cref="Disconnect"/>.
    /// </summary>
    /// <param name="containerName">the name it resolves by on a user network (with its short id and aliases).</param>
    /// <param name="containerIfName">its interface inside: eth0 for the first network; null picks the first free ethN.</param>
    /// <param name="defaultRoute">route the container's outbound traffic via this network (its first one).</param>
    public Attachment Connect(string containerId, string networkName, string netnsPath, string? requestedIp, IReadOnlyList<string> publish,
        string? containerName = null, IReadOnlyList<string>? aliases = null, string? containerIfName = "eth0", bool defaultRoute = true,
        string? requestedIp6 = null)
    {
        var requested = PortSpec.ParseAll(publish);
        aliases ??= [];
        if (aliases.Count > 0 && networkName == NetworkStore.DefaultNetworkName)
            throw new NetworkException("network-scoped alias is supported only for containers in user defined networks");
        foreach (string alias in aliases) NetworkOptions.ValidateDnsName(alias, "network alias");
        IPAddress? ip = null;
        if (requestedIp is not null && networkName == NetworkStore.DefaultNetworkName)
            throw new NetworkException("user specified IP address is supported on user defined networks only");
        if (requestedIp is not null && !IPAddress.TryParse(requestedIp, out ip))
            throw new NetworkException($"invalid IP address '{requestedIp}'");
        IPAddress? ip6 = requestedIp6 is null ? null : Ipv6.Parse(requestedIp6, "IPv6 address");
        var network = networkName == NetworkStore.DefaultNetworkName ? EnsureDefault() : _store.Get(networkName);
        if (ip6 is not null && !network.EnableIPv6)
            throw new NetworkException($"cannot use --ip6 {ip6}: network {network.Name} has no IPv6 (create it with --ipv6)");
        if (_store.IsRemoving(network.Name)) throw new NetworkException($"network {network.Name} is being removed");
        var driver = NetworkDrivers.For(network);
        if (driver.HasHostBridge && !BridgeExists(network.Bridge)) Realise(network); // host rebooted, or someone deleted it
        // Nothing of the host stands between such a container and its LAN: there is no address of ours to publish on.
        if (!driver.HasHostBridge && requested.Count > 0)
            throw new NetworkException($"published ports are not supported on {network.Driver} network {network.Name}: " +
                "the container has its own address on the parent's LAN; reach it there");
        // As Docker: an internal network publishes nothing (`run -p` is accepted and ignored; `run` warns).
        if (network.Internal) requested = [];
        containerIfName ??= NextInterfaceName(containerId);

        IPAddress? address = null, address6 = null;
        bool addressIsNew = false, address6IsNew = false, vethMade = false, proxied = false;
        EndpointRecord? endpoint = null;
        try
        {
            // A publishing attach holds the rules lock, which every publisher takes, from choosing its host ports to
            // appending its rules: choosing and recording a port is one step (two runs can never both take 8080),
            // and a concurrent sync (which adds rules for every recorded endpoint) runs wholly before or after, so
            // the rules are never added twice.
            using (requested.Count > 0 ? LockRules() : null)
            {
                // Every endpoint record is read to know the ports in use; a run that publishes nothing skips that.
                var ports = requested.Count == 0 ? []
                    : new PortAllocator().Assign(requested, _store.Endpoints(null).SelectMany(e => e.Ports).ToList());
                FailPoint.Check("ipam");
                // Allocate hands a container back the address it holds already: that one is not this call's to free.
                address = _ipam.Allocate(network.Name, network.Subnet, network.Gateway, containerId, ip, out addressIsNew, network.IpRange);
                if (network.EnableIPv6)
                    address6 = _ipam.Allocate6(network.Name, network.Subnet6!.Value, network.Gateway6!, containerId, ip6, out address6IsNew);
                // Recorded before any kernel object exists, so a concurrent reconcile or a crash sweep knows about it.
                endpoint = _store.Attach(network.Name, containerId, address, ports, containerIfName,
                    string.IsNullOrEmpty(containerName) ? null : containerName, aliases, address6);
                driver.Attach(network, endpoint, netnsPath, hairpin: ports.Count > 0, defaultRoute); // undoes its own link on failure
                vethMade = true;
                FailPoint.Check("run.network-attached");
                if (ports.Count > 0)
                {
                    FailPoint.Check("ports");
                    // Appended blind, in one batch: reading the whole ruleset costs in proportion to every
                    // container's rules (iptables-save of 600 rules takes 3x what an empty table does). The append
                    // fails if a flush took our jump from PREROUTING or our chains are gone: then restore everything,
                    // this container included, its endpoint being recorded.
                    try { firewall.AppendContainer(new ContainerPorts(containerId, network.Name, network.Bridge, address, ports, address6)); }
                    catch (NetworkException) { SyncFirewallLocked(); }
                    FailPoint.Check("run.ports-published");
                    // [::1]:PORT (and the host's other IPv6 addresses for a container without IPv6): see PortProxy.
                    proxied = true;
                    _proxies.Start(containerId, network.Name, ports, address);
                }
            }
            // Resolvable once the run goes on: the file is written and the server (re)loaded before the program starts.
            if (network.HasDns) SyncDns();
            return new Attachment(network, endpoint);
        }
        catch
        {
            // Only what this call made: nothing before an address was given (a port refused, a network being
            // removed); not an address or endpoint the same container held from an earlier attach ("already
            // attached"); not a veth whose creation failed (its name may be someone else's interface).
            try
            {
                if (proxied) _proxies.Stop(containerId, network.Name);
                if (endpoint is not null) Release(network.Name, containerId, endpoint, deleteVeth: vethMade, netnsPath);
                else if (addressIsNew || address6IsNew) _ipam.Release(network.Name, containerId);
            }
            catch (Exception) { /* the original error is the one the user sees; a sweep finds what is left */ }
            throw;
        }
    }

    /// <summary>Undoes <see cref="Connect"/> on every network; idempotent, also after a crash (the veth may already
    /// be gone with the namespace, the endpoint record may be missing).</summary>
    /// <param name="namespaceGone">the container's processes are all gone (its PID 1 was reaped), so its network
    /// namespace is being destroyed and the kernel deletes the veth pair with it. Deleting it ourselves would only
    /// wait for the same RCU grace period (15-20 ms, the bulk of a CNI DEL); the address is not handed out again
    /// at once either, since IPAM allocates round-robin.</param>
    public void Disconnect(string containerId, bool namespaceGone = false)
    {
        var endpoints = _store.Endpoints(null).Where(e => e.ContainerId == containerId).ToList();
        foreach (var endpoint in endpoints) Release(endpoint.Network, containerId, endpoint, deleteVeth: !namespaceGone);
        foreach (var network in _store.List().Where(n => endpoints.All(e => e.Network != n.Name)))
            _ipam.Release(network.Name, containerId);
    }

    /// <summary>`network disconnect`: one network's endpoint of a container, its interface vanishing from the running
    /// container (deleting the host end deletes the pair).</summary>
    /// <param name="netnsPath">the running container's network namespace: a macvlan or ipvlan link is deleted there
    /// (it has no host end).</param>
    public void DisconnectFrom(string containerId, string networkName, string? netnsPath = null)
    {
        var network = _store.Get(networkName);
        var endpoint = _store.Endpoints(network.Name).FirstOrDefault(e => e.ContainerId == containerId)
            ?? throw new NetworkException($"container {containerId[..Math.Min(12, containerId.Length)]} is not connected to network {network.Name}");
        Release(network.Name, containerId, endpoint, deleteVeth: true, netnsPath);
    }

    /// <summary>`network prune`: every user network no container is attached to; returns their names.</summary>
    public IReadOnlyList<string> Prune()
    {
        var removed = new List<string>();
        foreach (var n in _store.List().Where(n => n.Name != NetworkStore.DefaultNetworkName))
        {
            if (_store.Endpoints(n.Name).Count > 0) continue;
            try { Remove(n.Name); removed.Add(n.Name); }
            catch (NetworkException) { /* a container joined meanwhile: in use, so kept */ }
        }
        return removed;
    }

    /// <summary>eth1, eth2...: the first name none of the container's endpoints has.</summary>
    private string NextInterfaceName(string containerId)
    {
        var used = _store.Endpoints(null).Where(e => e.ContainerId == containerId).Select(e => e.ContainerIfName).ToHashSet(StringComparer.Ordinal);
        for (int i = 0; ; i++)
            if (!used.Contains($"eth{i}")) return $"eth{i}";
    }

    /// <summary>The name server's configuration and process brought in line with the records (see AardvarkDns.Sync).</summary>
    public void SyncDns() => Dns.Sync(_store.List(), _store.Endpoints(null));

    /// <summary>In teardown: a name server that cannot be reloaded must not stop the cleanup; the next reconcile
    /// (or the next container's attach) syncs again.</summary>
    private void SyncDnsQuietly()
    {
        try { SyncDns(); }
        catch (Exception e) when (e is NetworkException or IOException or UnauthorizedAccessException or MiniDockerException) { }
    }

    /// <summary>
    /// One endpoint's teardown, shared by a failed Connect, Disconnect and the sweep. The record goes first: a
    /// concurrent reconcile restores rules only for recorded endpoints, so it can never bring back the rules being
    /// removed here. The veth goes before the address, so a freed name or address is never reused while the old
    /// interface still exists.
    /// </summary>
    private void Release(string network, string containerId, EndpointRecord? endpoint, bool deleteVeth = true, string? netnsPath = null)
    {
        var record = _store.Find(network);
        using (LockRules())
        {
            _store.Detach(network, containerId);
            if (endpoint is null) firewall.RemoveContainer(containerId);
            else if (endpoint.Ports.Count > 0)
                firewall.RemoveContainer(new ContainerPorts(containerId, network, BridgeOf(network), endpoint.IP, endpoint.Ports, endpoint.IPv6));
        }
        _proxies.Stop(containerId, network);
        if (endpoint is not null && deleteVeth) NetworkDrivers.For(record?.Driver ?? NetworkStore.BridgeDriver).Detach(record, endpoint, netnsPath);
        _ipam.Release(network, containerId);
        if (network != NetworkStore.DefaultNetworkName) SyncDnsQuietly();
    }

    /// <summary>
    /// Brings the host back in line with the records: removals that a crash interrupted finished, bridges re-created,
    /// our rules restored after a flush, and (the crash sweep) everything of containers that no longer exist released:
    /// endpoints, veths, addresses and rules. Rules and bridges tagged for this root whose network has no record go
    /// too, as do rules whose container has no endpoint.
    /// </summary>
    public void Reconcile()
    {
        using (LockRules())
        {
            foreach (var pending in _store.PendingRemovals()) FinishRemove(pending);
        }
        foreach (var gone in _store.Endpoints(null).Where(e => !containerExists(e.ContainerId)))
            Release(gone.Network, gone.ContainerId, gone);
        var networks = _store.List();
        foreach (var n in networks)
            foreach (var owner in _ipam.Allocations(n.Name).Values.Distinct().Where(o => !containerExists(o)).ToList())
                _ipam.Release(n.Name, owner);
        if (networks.Count > 0) _roots.Register(stateRoot);
        // Every bridge checked, not only missing ones: an interface of someone else's under a bridge's name is
        // reported (after the other networks are repaired), never adopted.
        var refused = new List<string>();
        foreach (var n in networks)
        {
            try { NetworkDrivers.For(n).EnsureNetwork(n, Tag(n)); }
            catch (NetworkException e) { refused.Add(e.Message); }
        }

        // Listing the records and applying them must be one step against a concurrent Release (record removed, then
        // its rules) or Create (record, then bridge and rules): see SyncFirewallLocked.
        using (LockRules())
        {
            SyncFirewallLocked();
            RemoveStrayBridges();
        }
        // A name server that crashed is restarted, one no network needs any more stopped.
        SyncDns();
        if (refused.Count > 0)
            throw new NetworkException(refused[0] + (refused.Count > 1 ? $" (and {refused.Count - 1} more)" : ""));
    }

    /// <summary>
    /// `system reset`, the network part: every endpoint, address, rule, network and bridge of this root, whether or
    /// not its container still exists (the caller has removed the containers). The root's registration stays until
    /// the caller has removed the root's state too (<see cref="ForgetRoot"/>).
    /// </summary>
    public void RemoveEverything()
    {
        foreach (var endpoint in _store.Endpoints(null)) Release(endpoint.Network, endpoint.ContainerId, endpoint);
        foreach (var n in _store.List())
            foreach (var owner in _ipam.Allocations(n.Name).Values.Distinct().ToList())
                _ipam.Release(n.Name, owner);
        using (LockRules())
        {
            foreach (var n in _store.List()) FinishRemove(_store.MarkRemoving(n.Name));
            foreach (var pending in _store.PendingRemovals()) FinishRemove(pending);
            firewall.RemoveScope(_scope);
            RemoveStrayBridges();
            firewall.RemoveIfUnused();
        }
        SyncDns(); // no network left: the server stops and its configuration goes
    }

    /// <summary>Drops this root from the host-wide registry of roots; once its state is gone nothing may name it.</summary>
    public void ForgetRoot() => _roots.Forget(stateRoot);

    /// <summary>What `network reconcile --orphans` found: what it removed, and the roots it could not place.</summary>
    public sealed record OrphanReport(IReadOnlyList<string> Removed, IReadOnlyList<string> UnknownScopes);

    /// <summary>
    /// Removes the bridges and rules of state roots that no longer exist, whichever root asks: tagged objects whose
    /// scope the registry maps to a root directory that is gone. Objects of an existing root, of a scope the registry
    /// does not know (made before roots were recorded), and anything without our tags are left alone.
    /// </summary>
    public static OrphanReport SweepOrphans(RootRegistry? registry = null, IReadOnlyList<IFirewall>? firewalls = null)
    {
        var roots = registry ?? new RootRegistry();
        var removed = new List<string>();
        var unknown = new SortedSet<string>(StringComparer.Ordinal);
        var gone = new SortedSet<string>(StringComparer.Ordinal);
        bool IsGone(string scope)
        {
            if (roots.IsGone(scope)) { gone.Add(scope); return true; }
            if (roots.RootOf(scope) is null) unknown.Add(scope);
            return false;
        }

        foreach (var (name, tag) in BridgeDriver.TaggedBridges())
        {
            if (!HostTags.TryParse(tag, out string scope, out _) || !IsGone(scope)) continue;
            if (BridgeDriver.DeleteOwnedBridge(name, tag)) removed.Add($"bridge {name} (root {roots.RootOf(scope)})");
        }
        foreach (var fw in firewalls ?? AvailableFirewalls())
        {
            bool any = false;
            foreach (string scope in fw.TaggedScopes().Where(IsGone))
            {
                fw.RemoveScope(scope);
                removed.Add($"{fw.Name} rules of root {roots.RootOf(scope)}");
                any = true;
            }
            if (any) fw.RemoveIfUnused();
        }
        foreach (string scope in roots.Scopes().Where(roots.IsGone)) gone.Add(scope);
        foreach (string scope in gone)
        {
            // The gone root's name server kept running with its config: stop it and remove both (its lock lived in
            // the deleted root, so a lock of its own here, removed after).
            var dns = new AardvarkDns(scope, Path.Combine(AardvarkDns.RunDirectory, $".orphan-{scope}.lock"));
            if (Directory.Exists(dns.ConfigDirectory))
            {
                dns.Sync([], []);
                File.Delete(Path.Combine(AardvarkDns.RunDirectory, $".orphan-{scope}.lock"));
                removed.Add($"name server of root {roots.RootOf(scope)}");
            }
            roots.ForgetScope(scope);
        }
        return new OrphanReport(removed, unknown.ToList());
    }

    private static IEnumerable<IFirewall> AvailableFirewalls()
    {
        if (ToolRunner.Find("iptables-restore") is not null) yield return Firewalls.Create("iptables");
        if (ToolRunner.Find("nft") is not null) yield return Firewalls.Create("nftables");
    }

    /// <summary>Bridges tagged for this root whose network has no record (a removal by an older version killed after
    /// its record went). The caller holds the network lock, so no network is half-created meanwhile.</summary>
    private void RemoveStrayBridges()
    {
        foreach (var (name, tag) in BridgeDriver.TaggedBridges())
        {
            if (HostTags.TryParse(tag, out string scope, out string network) && scope == _scope && _store.Find(network) is null)
                BridgeDriver.DeleteOwnedBridge(name, tag);
        }
    }

    /// <summary>Every network's and published container's rules as recorded, in one batch. The caller holds the network lock: records and rules are then read and written as one step against
    /// Create, Remove and Release, so rules of this root that no record names are leftovers and go.</summary>
    private void SyncFirewallLocked()
    {
        var networks = _store.List().Where(n => NetworkDrivers.For(n).HasHostBridge).ToList(); // others have no rules
        if (networks.Count == 0)
        {
            // Nothing of this root needs rules: sweep what its vanished containers and networks left, and let the
            // shared skeleton go if no other root uses it either.
            firewall.RemoveScope(_scope);
            firewall.RemoveIfUnused();
            return;
        }
        var bridges = networks.ToDictionary(n => n.Name, n => n.Bridge);
        firewall.Reconcile(networks.Select(Rules).ToList(),
            _store.Endpoints(null).Where(e => e.Ports.Count > 0 && bridges.ContainsKey(e.Network))
                .Select(e => new ContainerPorts(e.ContainerId, e.Network, bridges[e.Network], e.IP, e.Ports, e.IPv6)).ToList(),
            removeUnlistedContainers: true, removeUnlistedNetworks: true);
    }

    /// <summary>Whether a bridge of that name exists (anything else under its name is for EnsureBridge to refuse).</summary>
    private static bool BridgeExists(string bridge)
    {
        using var nl = Netlink.RtNetlink.Open();
        return nl.GetLink(bridge) is { Kind: "bridge" };
    }

    private string BridgeOf(string network) => _store.Find(network)?.Bridge ?? "";

    private FileLock LockRules() => FileLock.Acquire(Path.Combine(stateRoot, "networks", ".rules.lock"));

    private static NetworkRules Rules(NetworkRecord r) => new(r.Name, r.Bridge, r.Subnet, r.Internal, r.EnableIPv6 ? r.Subnet6 : null);

    private string Tag(NetworkRecord r) => HostTags.Network(_scope, r.Name);

    private static void Undo(Action step)
    {
        try { step(); } catch (Exception) { /* keep undoing: the original error is the one the user sees */ }
    }
}
