namespace MiniDocker.Network;

/// <summary>
/// The seed's NetworkDriver: what one kind of network does on the host and in a container's namespace. The manager
/// keeps the records, IPAM, ports, firewall and names; a driver only makes and removes kernel objects, each call
/// undoing its own half-made work when it fails.
/// </summary>
internal interface INetworkDriver
{
    /// <summary>"bridge", "macvlan", "ipvlan": the name `network create --driver` takes and `network ls` shows.</summary>
    string Name { get; }

    /// <summary>Whether the network has a host bridge holding its gateway address: only then are there NAT and filter
    /// rules, published ports, a hairpin, and a name server listening on the gateway.</summary>
    bool HasHostBridge { get; }

    /// <summary>`network create`, after the record is written: the host side. <paramref name="created"/> is called
    /// once an object exists that this call made (only that may the caller's undo delete).</summary>
    void CreateNetwork(NetworkRecord network, string tag, Action? created = null);

    /// <summary>Brings the host side back after a reboot or someone's deletion; idempotent.</summary>
    void EnsureNetwork(NetworkRecord network, string tag);

    /// <summary>`network rm`: removes what <see cref="CreateNetwork"/> made, and only that.</summary>
    void DeleteNetwork(NetworkRecord network, string tag);

    /// <summary>The container's interface on the network, its address and routes; undoes itself on failure.</summary>
    void Attach(NetworkRecord network, EndpointRecord endpoint, string netnsPath, bool hairpin, bool defaultRoute);

    /// <summary>Removes the container's interface; a no-op when it is gone already.</summary>
    /// <param name="netnsPath">the running container's namespace, or null when it is gone (or going) with the
    /// container, which then takes every interface inside with it.</param>
    void Detach(NetworkRecord? network, EndpointRecord endpoint, string? netnsPath);
}

/// <summary>The drivers by name.</summary>
internal static class NetworkDrivers
{
    private static readonly INetworkDriver Bridge = new BridgeNetworkDriver();
    private static readonly INetworkDriver Macvlan = new LowerLinkDriver(LowerLinkOptions.Macvlan);
    private static readonly INetworkDriver Ipvlan = new LowerLinkDriver(LowerLinkOptions.Ipvlan);

    public static INetworkDriver For(string driver) => driver switch
    {
        NetworkStore.BridgeDriver => Bridge,
        LowerLinkOptions.Macvlan => Macvlan,
        LowerLinkOptions.Ipvlan => Ipvlan,
        _ => throw new NetworkException($"unknown network driver '{driver}': use bridge, macvlan or ipvlan"),
    };

    public static INetworkDriver For(NetworkRecord network) => For(network.Driver);
}
