using System.Net;

namespace MiniDocker.Network;

/// <summary>A user-defined (or the default) network as persisted in &lt;stateRoot&gt;/networks/&lt;Name&gt;.json.</summary>
public sealed record NetworkRecord(
    string Name,
    string Driver,
    Subnet Subnet,
    IPAddress Gateway,
    string Bridge,
    DateTimeOffset Created,
    IReadOnlyDictionary<string, string> Options,
    bool Internal = false,
    Subnet? IpRange = null,
    IReadOnlyDictionary<string, string>? Labels = null,
    int Mtu = 0,
    Subnet6? Subnet6 = null,
    IPAddress? Gateway6 = null)
{
    /// <summary>`--ipv6`: the network is dual stack (an IPv6 subnet beside the IPv4 one).</summary>
    public bool EnableIPv6 => Subnet6 is not null && Gateway6 is not null;

    /// <summary>Whether containers on it resolve each other by name (aardvark-dns): every network but the default
    /// one, as Docker. Not a macvlan or ipvlan network: the server listens on the gateway, which there is the LAN's
    /// router, not an address of this host.</summary>
    public bool HasDns => Name != NetworkStore.DefaultNetworkName && Driver == NetworkStore.BridgeDriver;
}

/// <summary>
/// One container's attachment to one network, persisted in
/// &lt;stateRoot&gt;/networks/endpoints/&lt;Network&gt;/&lt;ContainerId&gt;.json.
/// </summary>
/// <param name="HostVeth">Host end of the veth pair, unique among all endpoints (see <see cref="InterfaceNames"/>).</param>
/// <param name="ContainerIfName">Name inside the container: eth0 for its first network, eth1... for the others.</param>
/// <param name="Name">The container's name when it joined, for name resolution.</param>
/// <param name="Aliases">`--network-alias`/`--alias` names it also resolves by on this network.</param>
/// <param name="IPv6">Its IPv6 address on a dual-stack network.</param>
/// <param name="MAC">Derived from <paramref name="IP"/> like Docker, e.g. 02:42:0a:14:00:02.</param>
public sealed record EndpointRecord(
    string ContainerId,
    string Network,
    string HostVeth,
    string ContainerIfName,
    IPAddress IP,
    string MAC,
    IReadOnlyList<PortMapping> Ports,
    string? Name = null,
    IReadOnlyList<string>? Aliases = null,
    IPAddress? IPv6 = null);
