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
    IReadOnlyDictionary<string, string> Options);

/// <summary>
/// One container's attachment to one network, persisted in
/// &lt;stateRoot&gt;/networks/endpoints/&lt;Network&gt;/&lt;ContainerId&gt;.json.
/// </summary>
/// <param name="HostVeth">Host end of the veth pair, unique among all endpoints (see <see cref="InterfaceNames"/>).</param>
/// <param name="ContainerIfName">Final name inside the container, "eth0".</param>
/// <param name="MAC">Derived from <paramref name="IP"/> like Docker, e.g. 02:42:0a:14:00:02.</param>
public sealed record EndpointRecord(
    string ContainerId,
    string Network,
    string HostVeth,
    string ContainerIfName,
    IPAddress IP,
    string MAC,
    IReadOnlyList<PortMapping> Ports);
