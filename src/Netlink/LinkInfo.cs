namespace MiniDocker.Netlink;

/// <summary>One network interface as the kernel reports it in RTM_NEWLINK.</summary>
/// <param name="Kind">IFLA_INFO_KIND ("veth", "bridge", ...); null for links without a driver kind, such as lo or a physical NIC.</param>
/// <param name="MasterIndex">Index of the bridge (or other master) this link is enslaved to; 0 when it has none.</param>
/// <param name="IsUp">Administrative state (IFF_UP), not carrier.</param>
/// <param name="Mac">Hardware address, or null for links without one.</param>
/// <param name="Alias">IFLA_IFALIAS (`ip link set X alias TEXT`), or null when none is set: how a program marks an
/// interface as its own.</param>
/// <param name="OperState">IFLA_OPERSTATE as RFC 2863 names it ("up", "down", "lowerlayerdown", ...): whether
/// packets can actually pass, which <paramref name="IsUp"/> alone does not say (a veth whose peer is down).</param>
/// <param name="PeerIndex">IFLA_LINK: for a veth, the peer's index (in the peer's namespace); 0 when absent.</param>
public sealed record LinkInfo(int Index, string Name, string? Kind, int MasterIndex, bool IsUp, byte[]? Mac, int Mtu, string? Alias = null,
    string OperState = "unknown", int PeerIndex = 0);
