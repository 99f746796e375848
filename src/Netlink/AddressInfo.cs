namespace MiniDocker.Netlink;

/// <summary>One IPv4 address assigned to a link.</summary>
public sealed record AddressInfo(int LinkIndex, System.Net.IPAddress Address, int PrefixLength);
