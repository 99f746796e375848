using System.Net;

namespace MiniDocker.Network;

/// <summary>A container's attachment as the runtime needs it: the address to put in /etc/hosts.</summary>
public sealed record Attachment(NetworkRecord Network, EndpointRecord Endpoint);

/// <summary>
/// The network subsystem's one entry point: networks (store + bridge + firewall) and container attachments
/// (IPAM + veth + routes + published ports). It takes a network namespace path to work on and knows nothing about
/// containers beyond their id. Each step registers its undo; a failure at step N undoes N-1..1.
/// </summary>
public sealed class NetworkManager(string stateRoot, IFirewall firewall)
{
    private readonly NetworkStore _store = new(stateRoot);
    private readonly Ipam _ipam = new(stateRoot);

    public IFirewall Firewall => firewall;
    public IReadOnlyList<NetworkRecord> List() => _store.List();
    public NetworkRecord Get(string name) => name == NetworkStore.DefaultNetworkName ? EnsureDefault() : _store.Get(name);
    public IReadOnlyList<EndpointRecord> Endpoints(string? network = null) => _store.Endpoints(network);

    public NetworkRecord Create(string name, string subnet, string? gateway, string driver, IReadOnlyDictionary<string, string> options)
    {
        var record = _store.Create(name, subnet, gateway, BridgeDriver.HostRoutes(), driver, options);
        try
        {
            CheckBridgeNameFree(record);
            Realise(record);
            return record;
        }
        catch
        {
            Undo(() => firewall.RemoveNetwork(Rules(record)));
            Undo(() => BridgeDriver.DeleteBridge(record.Bridge));
            Undo(() => _store.Remove(record.Name));
            throw;
        }
    }

    /// <summary>The default network (Docker's "bridge" on docker0), created on first use.</summary>
    public NetworkRecord EnsureDefault()
    {
        var existing = _store.Find(NetworkStore.DefaultNetworkName);
        if (existing is not null) return existing;
        var record = _store.EnsureDefault(BridgeDriver.HostRoutes());
        Realise(record);
        return record;
    }

    private void CheckBridgeNameFree(NetworkRecord record)
    {
        // `-o bridge-name=eth0` must not adopt (and later delete) an interface that is not ours.
        using var nl = Netlink.RtNetlink.Open();
        if (nl.GetLink(record.Bridge) is { } link)
            throw new NetworkException($"interface {record.Bridge} already exists{(link.Kind is null ? "" : $" ({link.Kind})")}: choose another bridge-name");
    }

    /// <summary>Bridge and rules for a recorded network; idempotent (after a reboot the bridge is re-created).</summary>
    private void Realise(NetworkRecord record)
    {
        BridgeDriver.EnsureBridge(record);
        FailPoint.Check("network-firewall");
        firewall.EnsureNetwork(Rules(record));
    }

    /// <summary>`network rm`: refused while containers are attached; removes rules, bridge and IPAM state.</summary>
    public void Remove(string name)
    {
        var record = _store.Get(name);
        var attached = _store.Endpoints(name);
        if (attached.Count > 0)
            throw new NetworkException($"cannot remove network {name}: {attached.Count} container(s) still attached ({string.Join(", ", attached.Select(e => e.ContainerId[..12]))})");
        _store.Remove(name); // validates (default network, attachments) before anything is torn down
        firewall.RemoveNetwork(Rules(record));
        BridgeDriver.DeleteBridge(record.Bridge);
        if (_store.List().Count == 0) firewall.RemoveIfUnused();
    }

    /// <summary>
    /// Connects a container's network namespace to a network: address, veth, eth0 inside, default route, and the
    /// published ports. Host ports are checked (taken by another container or bound by a host process) before the
    /// container starts.
    /// </summary>
    public Attachment Connect(string containerId, string networkName, string netnsPath, string? requestedIp, IReadOnlyList<string> publish)
    {
        var network = Get(networkName);
        var requested = PortSpec.ParseAll(publish);
        IPAddress? ip = null;
        if (requestedIp is not null && !IPAddress.TryParse(requestedIp, out ip))
            throw new NetworkException($"invalid IP address '{requestedIp}'");
        if (!BridgeExists(network.Bridge)) Realise(network); // host rebooted, or someone deleted it
        else if (requested.Count > 0) firewall.EnsureNetwork(Rules(network)); // restores our chains if flushed

        var undo = new Stack<Action>();
        try
        {
            var ports = new PortAllocator().Assign(requested, _store.Endpoints(null).SelectMany(e => e.Ports).ToList());
            FailPoint.Check("ipam");
            var address = _ipam.Allocate(network.Name, network.Subnet, network.Gateway, containerId, ip);
            undo.Push(() => _ipam.Release(network.Name, containerId));
            var endpoint = _store.Attach(network.Name, containerId, address, ports);
            undo.Push(() => _store.Detach(network.Name, containerId));
            BridgeDriver.Attach(network, endpoint, netnsPath, hairpin: ports.Count > 0);
            undo.Push(() => BridgeDriver.Detach(endpoint.HostVeth));
            if (ports.Count > 0)
            {
                undo.Push(() => firewall.RemoveContainer(containerId));
                FailPoint.Check("ports");
                firewall.AddContainer(new ContainerPorts(containerId, network.Name, network.Bridge, address, ports));
            }
            return new Attachment(network, endpoint);
        }
        catch
        {
            while (undo.Count > 0) Undo(undo.Pop());
            throw;
        }
    }

    /// <summary>Undoes <see cref="Connect"/> for every network the container is on; idempotent, also after a crash
    /// (the veth may already be gone with the namespace).</summary>
    public void Disconnect(string containerId)
    {
        foreach (var endpoint in _store.Endpoints(null).Where(e => e.ContainerId == containerId))
        {
            if (endpoint.Ports.Count > 0) firewall.RemoveContainer(containerId);
            // The veth first, so a freed name is never reused while the old interface still exists.
            BridgeDriver.Detach(endpoint.HostVeth);
            _ipam.Release(endpoint.Network, containerId);
            _store.Detach(endpoint.Network, containerId);
        }
    }

    public void LoopbackOnly(string netnsPath) => BridgeDriver.LoopbackOnly(netnsPath);

    /// <summary>Restores our rules after someone flushed them, and removes rules of containers that no longer
    /// exist (the orphan sweep).</summary>
    public void Reconcile(Func<string, bool>? containerExists = null)
    {
        var networks = _store.List();
        foreach (var n in networks.Where(n => !BridgeExists(n.Bridge))) BridgeDriver.EnsureBridge(n);
        var endpoints = _store.Endpoints(null);
        var bridges = networks.ToDictionary(n => n.Name, n => n.Bridge);
        firewall.Reconcile(networks.Select(Rules).ToList(),
            endpoints.Where(e => e.Ports.Count > 0)
                .Select(e => new ContainerPorts(e.ContainerId, e.Network, bridges[e.Network], e.IP, e.Ports)).ToList());
        if (containerExists is null) return;
        var known = endpoints.Select(e => e.ContainerId[..12]).ToHashSet();
        foreach (var tag in firewall.TaggedContainers().Where(t => !known.Contains(t) && !containerExists(t)))
            firewall.RemoveContainer(tag);
    }

    private static bool BridgeExists(string bridge)
    {
        using var nl = Netlink.RtNetlink.Open();
        return nl.GetLink(bridge) is not null;
    }

    private static NetworkRules Rules(NetworkRecord r) => new(r.Name, r.Bridge, r.Subnet);

    private static void Undo(Action step)
    {
        try { step(); } catch (Exception) { /* keep undoing: the original error is the one the user sees */ }
    }
}
