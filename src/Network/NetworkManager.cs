using System.Net;

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
public sealed class NetworkManager(string stateRoot, IFirewall firewall, Func<string, bool> containerExists)
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
    /// container starts. On failure everything is released by the same code as <see cref="Disconnect"/>.
    /// </summary>
    public Attachment Connect(string containerId, string networkName, string netnsPath, string? requestedIp, IReadOnlyList<string> publish)
    {
        var network = Get(networkName);
        var requested = PortSpec.ParseAll(publish);
        IPAddress? ip = null;
        if (requestedIp is not null && !IPAddress.TryParse(requestedIp, out ip))
            throw new NetworkException($"invalid IP address '{requestedIp}'");
        if (!BridgeExists(network.Bridge)) Realise(network); // host rebooted, or someone deleted it

        // Every endpoint record is read to know the ports in use; a run that publishes nothing skips that.
        var ports = requested.Count == 0 ? []
            : new PortAllocator().Assign(requested, _store.Endpoints(null).SelectMany(e => e.Ports).ToList());
        FailPoint.Check("ipam");
        var address = _ipam.Allocate(network.Name, network.Subnet, network.Gateway, containerId, ip);
        EndpointRecord? endpoint = null;
        try
        {
            // A publishing attach holds the rules lock from recording its endpoint to appending its rules: a
            // concurrent sync (which adds rules for every recorded endpoint) then runs wholly before or after, and
            // the rules are never added twice.
            using (ports.Count > 0 ? LockRules() : null)
            {
                // Recorded before any kernel object exists, so a concurrent reconcile or a crash sweep knows about it.
                endpoint = _store.Attach(network.Name, containerId, address, ports);
                BridgeDriver.Attach(network, endpoint, netnsPath, hairpin: ports.Count > 0);
                if (ports.Count > 0)
                {
                    FailPoint.Check("ports");
                    // Appended blind, in one batch: reading the whole ruleset costs in proportion to every
                    // container's rules (iptables-save of 600 rules takes 3x what an empty table does). The append
                    // fails if a flush took our jump from PREROUTING or our chains are gone: then restore everything,
                    // this container included, its endpoint being recorded.
                    try { firewall.AppendContainer(new ContainerPorts(containerId, network.Name, network.Bridge, address, ports)); }
                    catch (NetworkException) { SyncFirewallLocked(); }
                }
            }
            return new Attachment(network, endpoint);
        }
        catch
        {
            try { Release(network.Name, containerId, endpoint); }
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

    /// <summary>
    /// One endpoint's teardown, shared by a failed Connect, Disconnect and the sweep. The record goes first: a
    /// concurrent reconcile restores rules only for recorded endpoints, so it can never bring back the rules being
    /// removed here. The veth goes before the address, so a freed name or address is never reused while the old
    /// interface still exists.
    /// </summary>
    private void Release(string network, string containerId, EndpointRecord? endpoint, bool deleteVeth = true)
    {
        using (LockRules())
        {
            _store.Detach(network, containerId);
            if (endpoint is null) firewall.RemoveContainer(containerId);
            else if (endpoint.Ports.Count > 0)
                firewall.RemoveContainer(new ContainerPorts(containerId, network, BridgeOf(network), endpoint.IP, endpoint.Ports));
        }
        if (endpoint is not null && deleteVeth) BridgeDriver.Detach(endpoint.HostVeth);
        _ipam.Release(network, containerId);
    }

    public void LoopbackOnly(string netnsPath) => BridgeDriver.LoopbackOnly(netnsPath);

    /// <summary>
    /// Brings the host back in line with the records: bridges re-created, our rules restored after a flush, and
    /// (the crash sweep) everything of containers that no longer exist released: endpoints, veths, addresses and
    /// rules. Rules whose container has no endpoint are orphans and go too.
    /// </summary>
    public void Reconcile()
    {
        var networks = _store.List();
        foreach (var n in networks.Where(n => !BridgeExists(n.Bridge))) BridgeDriver.EnsureBridge(n);
        foreach (var gone in _store.Endpoints(null).Where(e => !containerExists(e.ContainerId)))
            Release(gone.Network, gone.ContainerId, gone);
        foreach (var n in networks)
            foreach (var owner in _ipam.Allocations(n.Name).Values.Distinct().Where(o => !containerExists(o)).ToList())
                _ipam.Release(n.Name, owner);

        SyncFirewall();
    }

    /// <summary>Every network's and published container's rules as recorded, in one batch; other container rules go.</summary>
    private void SyncFirewall()
    {
        // Listing the records and applying them must be one step against a concurrent Release (record removed, then
        // its rules): otherwise a sync that listed the record before could bring the rules back after.
        using var _ = LockRules();
        SyncFirewallLocked();
    }

    private void SyncFirewallLocked()
    {
        var networks = _store.List();
        if (networks.Count == 0)
        {
            // Nothing of this root needs rules: sweep what its vanished containers left, and let the shared skeleton
            // go if no other root uses it either.
            foreach (var tag in firewall.TaggedContainers()) firewall.RemoveContainer(tag);
            firewall.RemoveIfUnused();
            return;
        }
        var bridges = networks.ToDictionary(n => n.Name, n => n.Bridge);
        firewall.Reconcile(networks.Select(Rules).ToList(),
            _store.Endpoints(null).Where(e => e.Ports.Count > 0)
                .Select(e => new ContainerPorts(e.ContainerId, e.Network, bridges[e.Network], e.IP, e.Ports)).ToList(),
            removeUnlistedContainers: true);
    }

    private static bool BridgeExists(string bridge)
    {
        using var nl = Netlink.RtNetlink.Open();
        return nl.GetLink(bridge) is not null;
    }

    private string BridgeOf(string network) => _store.Find(network)?.Bridge ?? "";

    private FileLock LockRules() => FileLock.Acquire(Path.Combine(stateRoot, "networks", ".rules.lock"));

    private static NetworkRules Rules(NetworkRecord r) => new(r.Name, r.Bridge, r.Subnet);

    private static void Undo(Action step)
    {
        try { step(); } catch (Exception) { /* keep undoing: the original error is the one the user sees */ }
    }
}
