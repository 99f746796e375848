using System.Net;
using MiniDocker.Linux;

namespace MiniDocker.Network;

/// <summary>
/// Container addresses, one state file per network at &lt;stateRoot&gt;/networks/ipam/&lt;network&gt;.json.
/// Each call holds an exclusive flock on networks/ipam/.lock across read-modify-write, so parallel
/// "run" processes never hand out the same address. One lock for all networks (rather than one per network)
/// because a per-network lock file would have to be unlinked by DeleteNetwork, and a process blocked on the
/// unlinked file would then "own" a lock nobody else sees.
/// </summary>
public sealed class Ipam
{
    private readonly string _directory;

    public Ipam(string stateRoot) => _directory = Path.Combine(stateRoot, "networks", "ipam");

    /// <summary>
    /// Gives <paramref name="owner"/> an address in <paramref name="subnet"/>: <paramref name="requested"/> if set,
    /// otherwise the next free one after the last automatic allocation (like CNI host-local), wrapping around once,
    /// so an allocation costs one pass over the state in the worst case instead of a scan from the start per call.
    /// The network address, the gateway and the broadcast address are never handed out.
    /// An owner that already holds an address gets it back, so a retried "run" does not leak addresses.
    /// </summary>
    public IPAddress Allocate(string network, Subnet subnet, IPAddress gateway, string owner, IPAddress? requested) =>
        Allocate(network, subnet, gateway, owner, requested, out _);

    /// <inheritdoc cref="Allocate(string, Subnet, IPAddress, string, IPAddress?)"/>
    /// <param name="isNew">false when <paramref name="owner"/> already held the address: an undo must not free it.</param>
    /// <param name="range">`--ip-range`: automatic addresses come from it only (a requested one may lie anywhere in
    /// the subnet, as Docker).</param>
    public IPAddress Allocate(string network, Subnet subnet, IPAddress gateway, string owner, IPAddress? requested, out bool isNew,
        Subnet? range = null)
    {
        isNew = false;
        NameRules.ValidateNetworkName(network);
        NameRules.ValidateContainerId(owner);
        if (!subnet.Contains(gateway))
            throw new NetworkException($"gateway {gateway} is outside subnet {subnet} of network {network}");

        using FileLock _ = LockIpam();
        IpamState state = Load(network, subnet) ?? new IpamState { Subnet = subnet, Gateway = gateway };
        if (!state.Gateway.Equals(gateway))
            throw new NetworkException(
                $"IPAM state of network {network} has gateway {state.Gateway}, not {gateway}: remove and recreate the network");

        foreach ((string held, string holder) in state.Allocations)
        {
            if (holder != owner)
                continue;
            IPAddress current = IPAddress.Parse(held);
            if (requested is not null && !requested.Equals(current))
                throw new NetworkException($"container {owner} already has address {current} in network {network}");
            return current;
        }

        IPAddress address;
        if (requested is not null)
        {
            CheckRequested(network, subnet, gateway, requested);
            if (state.Allocations.ContainsKey(requested.ToString()))
                throw new NetworkException($"address {requested} is already in use in network {network}");
            address = requested;
        }
        else
        {
            long offset = NextFree(network, state, range);
            state.LastOffset = offset;
            address = subnet.AddressAt(offset);
        }
        state.Allocations[address.ToString()] = owner;
        Save(network, state);
        isNew = true;
        return address;
    }

    /// <summary>Frees every address <paramref name="owner"/> holds in <paramref name="network"/>; a no-op if none.</summary>
    public void Release(string network, string owner)
    {
        NameRules.ValidateNetworkName(network);
        using FileLock _ = LockIpam();
        Release6Locked(network, owner);
        IpamState? state = Load(network, expected: null);
        if (state is null)
            return;
        List<string> held = state.Allocations.Where(a => a.Value == owner).Select(a => a.Key).ToList();
        if (held.Count == 0)
            return;
        foreach (string address in held)
            state.Allocations.Remove(address);
        Save(network, state);
    }

    /// <summary>Frees one address. Returns false when it was not allocated.</summary>
    public bool ReleaseAddress(string network, IPAddress address)
    {
        NameRules.ValidateNetworkName(network);
        using FileLock _ = LockIpam();
        IpamState? state = Load(network, expected: null);
        if (state is null || !state.Allocations.Remove(address.ToString()))
            return false;
        Save(network, state);
        return true;
    }

    /// <summary>Current allocations of <paramref name="network"/>: address to owner (container id).</summary>
    public IReadOnlyDictionary<IPAddress, string> Allocations(string network)
    {
        NameRules.ValidateNetworkName(network);
        string path = StatePath(network);
        // No lock needed to read: the file is only ever replaced by rename, never rewritten in place.
        var all = File.Exists(path)
            ? StateJson.Read(path, NetworkJson.Default.IpamState).Allocations.ToDictionary(a => IPAddress.Parse(a.Key), a => a.Value)
            : new Dictionary<IPAddress, string>();
        // The IPv6 addresses too: their owners are swept with the IPv4 ones (Release frees both).
        if (File.Exists(StatePath6(network)))
            foreach (var (address, holder) in StateJson.Read(StatePath6(network), NetworkJson.Default.IpamState6).Allocations)
                all[IPAddress.Parse(address)] = holder;
        return all;
    }

    public void DeleteNetwork(string network)
    {
        NameRules.ValidateNetworkName(network);
        using FileLock _ = LockIpam();
        AtomicFile.Delete(StatePath(network), fsyncDirectory: true);
        AtomicFile.Delete(StatePath6(network), fsyncDirectory: true);
    }

    /// <summary>
    /// Gives <paramref name="owner"/> an IPv6 address in <paramref name="subnet"/>, as <see cref="Allocate(string,
    /// Subnet, IPAddress, string, IPAddress?, out bool, Subnet?)"/> does for IPv4: the requested one (anywhere in the
    /// subnet but the network address, the gateway or a taken one), else the next after the last automatic one. The
    /// automatic ones are network+2, +3... (no broadcast in IPv6), so they stay short and readable.
    /// </summary>
    public IPAddress Allocate6(string network, Subnet6 subnet, IPAddress gateway, string owner, IPAddress? requested, out bool isNew)
    {
        isNew = false;
        NameRules.ValidateNetworkName(network);
        NameRules.ValidateContainerId(owner);
        using FileLock _ = LockIpam();
        string path = StatePath6(network);
        IpamState6 state = File.Exists(path) ? StateJson.Read(path, NetworkJson.Default.IpamState6)
            : new IpamState6 { Subnet = subnet.ToString(), Gateway = gateway };
        if (state.Subnet != subnet.ToString() || !state.Gateway.Equals(gateway))
            throw new NetworkException($"IPv6 IPAM state of network {network} is for {state.Subnet} via {state.Gateway}: remove and recreate the network");
        foreach ((string held, string holder) in state.Allocations)
        {
            if (holder != owner) continue;
            IPAddress current = IPAddress.Parse(held);
            if (requested is not null && !requested.Equals(current))
                throw new NetworkException($"container {owner} already has address {current} in network {network}");
            return current;
        }
        IPAddress address;
        if (requested is not null)
        {
            if (!subnet.Contains(requested))
                throw new NetworkException($"address {requested} is outside subnet {subnet} of network {network}");
            if (requested.Equals(subnet.Network))
                throw new NetworkException($"address {requested} is the subnet-router anycast address of network {network} ({subnet})");
            if (requested.Equals(gateway))
                throw new NetworkException($"address {requested} is the gateway of network {network}");
            if (state.Allocations.ContainsKey(requested.ToString()))
                throw new NetworkException($"address {requested} is already in use in network {network}");
            address = requested;
        }
        else
        {
            // A /64 has 2^64 addresses: no wrap-around search is needed, only a skip over requested and gateway ones.
            long offset = Math.Max(state.LastOffset, 0);
            do
            {
                if (offset == long.MaxValue) throw new NetworkException($"no free IPv6 address in network {network} ({subnet})");
                offset++;
                address = subnet.AddressAt(offset);
            }
            while (address.Equals(gateway) || state.Allocations.ContainsKey(address.ToString()));
            state.LastOffset = offset;
        }
        state.Allocations[address.ToString()] = owner;
        StateJson.Write(path, state, NetworkJson.Default.IpamState6);
        isNew = true;
        return address;
    }

    private void Release6Locked(string network, string owner)
    {
        string path = StatePath6(network);
        if (!File.Exists(path)) return;
        IpamState6 state = StateJson.Read(path, NetworkJson.Default.IpamState6);
        List<string> held = state.Allocations.Where(a => a.Value == owner).Select(a => a.Key).ToList();
        if (held.Count == 0) return;
        foreach (string address in held) state.Allocations.Remove(address);
        StateJson.Write(path, state, NetworkJson.Default.IpamState6);
    }

    // A directory of its own: a network called "x.ipv6" must not share a file with network "x".
    private string StatePath6(string network) => Path.Combine(_directory, "ipv6", network + ".json");

    private static void CheckRequested(string network, Subnet subnet, IPAddress gateway, IPAddress requested)
    {
        if (requested.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new NetworkException($"address {requested} is not IPv4");
        if (!subnet.Contains(requested))
            throw new NetworkException($"address {requested} is outside subnet {subnet} of network {network}");
        if (requested.Equals(subnet.Network))
            throw new NetworkException($"address {requested} is the network address of network {network} ({subnet})");
        if (requested.Equals(subnet.Broadcast))
            throw new NetworkException($"address {requested} is the broadcast address of network {network} ({subnet})");
        if (requested.Equals(gateway))
            throw new NetworkException($"address {requested} is the gateway of network {network}");
    }

    private static long NextFree(string network, IpamState state, Subnet? range)
    {
        Subnet subnet = state.Subnet;
        long firstHost = 1;
        long lastHost = subnet.Size - 2;
        if (range is { } r)
        {
            firstHost = Math.Max(firstHost, subnet.OffsetOf(r.Network));
            lastHost = Math.Min(lastHost, subnet.OffsetOf(r.Broadcast));
        }
        long gatewayOffset = subnet.OffsetOf(state.Gateway);
        var taken = new HashSet<long>(state.Allocations.Count);
        foreach (string address in state.Allocations.Keys)
            taken.Add(subnet.OffsetOf(IPAddress.Parse(address)));

        long start = state.LastOffset >= firstHost && state.LastOffset < lastHost ? state.LastOffset + 1 : firstHost;
        long hosts = lastHost - firstHost + 1;
        for (long i = 0; i < hosts; i++)
        {
            long offset = firstHost + (start - firstHost + i) % hosts;
            if (offset != gatewayOffset && !taken.Contains(offset))
                return offset;
        }
        throw new NetworkException($"no free address in network {network} ({range?.ToString() ?? subnet.ToString()})");
    }

    /// <summary>Loads the state, or null when the network has none yet. A subnet mismatch means stale state.</summary>
    private IpamState? Load(string network, Subnet? expected)
    {
        string path = StatePath(network);
        if (!File.Exists(path))
            return null;
        IpamState state = StateJson.Read(path, NetworkJson.Default.IpamState);
        if (expected is { } subnet && state.Subnet != subnet)
            throw new NetworkException(
                $"IPAM state of network {network} is for subnet {state.Subnet}, not {subnet}: remove and recreate the network");
        return state;
    }

    private void Save(string network, IpamState state) =>
        StateJson.Write(StatePath(network), state, NetworkJson.Default.IpamState);

    private FileLock LockIpam() => FileLock.Acquire(Path.Combine(_directory, ".lock"));

    private string StatePath(string network) => Path.Combine(_directory, network + ".json");
}

/// <summary>On-disk IPv6 IPAM state of one dual-stack network.</summary>
internal sealed class IpamState6
{
    public required string Subnet { get; init; }
    public required IPAddress Gateway { get; init; }
    public long LastOffset { get; set; }
    public Dictionary<string, string> Allocations { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>On-disk IPAM state of one network.</summary>
internal sealed class IpamState
{
    public required Subnet Subnet { get; init; }
    public required IPAddress Gateway { get; init; }

    /// <summary>Offset (from the network address) of the last automatically allocated address; the next search starts after it.</summary>
    public long LastOffset { get; set; }

    /// <summary>Address (dotted quad) to owner.</summary>
    public Dictionary<string, string> Allocations { get; init; } = new(StringComparer.Ordinal);
}
