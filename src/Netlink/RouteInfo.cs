namespace MiniDocker.Netlink;

/// <summary>One IPv4 route.</summary>
/// <param name="Destination">Null for the default route (the kernel sends no RTA_DST for 0.0.0.0/0).</param>
/// <param name="Gateway">Null for routes directly on a link.</param>
/// <param name="OutputLinkIndex">0 when the route names no output link.</param>
/// <param name="Table">Routing table id; 254 is the main table.</param>
public sealed record RouteInfo(System.Net.IPAddress? Destination, int PrefixLength, System.Net.IPAddress? Gateway, int OutputLinkIndex, byte Table);
