namespace MiniDocker.Netlink;

/// <summary>Constants of linux/if_link.h for the links that sit on a lower (parent) device: macvlan and ipvlan.</summary>
internal static class LowerLink
{
    public const ushort IflaMacvlanMode = 1;   // u32
    public const ushort IflaIpvlanMode = 1;    // u16
    public const ushort IflaIpvlanFlags = 2;   // u16
}

/// <summary>macvlan modes (enum macvlan_mode): how children of one parent reach each other.</summary>
public enum MacvlanMode : uint
{
    /// <summary>No traffic between children, not even through an outside switch.</summary>
    Private = 1,
    /// <summary>Between children only through the outside switch (hairpin on the switch port).</summary>
    Vepa = 2,
    /// <summary>Children reach each other directly inside the parent; what Docker uses.</summary>
    Bridge = 4,
}

/// <summary>ipvlan modes (enum ipvlan_mode): L2 answers ARP on the LAN with the parent's MAC; L3 routes, no ARP.</summary>
public enum IpvlanMode : ushort
{
    L2 = 0,
    L3 = 1,
    L3S = 2,
}

/// <summary>
/// RTM_NEWLINK for a macvlan or ipvlan child of a parent, laid out as iproute2 6.1's
/// <c>ip link add link PARENT name NAME [netns NS] [address MAC] type macvlan mode bridge</c> lays it out (netns,
/// address and mtu first, as its argument parser adds them; then IFLA_LINK, the name and the link info).
/// </summary>
internal static class RtnlLowerLinks
{
    private const ushort CreateExclusive = Rtnl.Request | Rtnl.Ack | Rtnl.Create | Rtnl.Excl;

    /// <param name="parentIndex">the parent's index in the namespace of the socket that sends this.</param>
    /// <param name="netnsFd">0 to create the link in the socket's namespace; else the namespace it is created in,
    /// under <paramref name="name"/> there (the parent stays where it is).</param>
    /// <param name="mac">empty for a random one.</param>
    public static void CreateMacvlan(NetlinkMessageBuilder b, uint seq, string name, int parentIndex, MacvlanMode mode,
        int netnsFd = 0, ReadOnlySpan<byte> mac = default, int mtu = 0)
    {
        Head(b, seq, name, parentIndex, netnsFd, mac, mtu);
        var linkInfo = b.BeginNested(Rtnl.IflaLinkInfo);
        b.AttributeStringUnterminated(Rtnl.IflaInfoKind, "macvlan");
        var data = b.BeginNested(Rtnl.IflaInfoData);
        b.AttributeUInt32(LowerLink.IflaMacvlanMode, (uint)mode);
        b.EndNested(data);
        b.EndNested(linkInfo);
        b.End();
    }

    /// <summary>An ipvlan child: it has the parent's MAC (there is no address of its own to set). Flags are 0
    /// (bridge: children reach each other inside the parent), as iproute2 sends them when none is named.</summary>
    public static void CreateIpvlan(NetlinkMessageBuilder b, uint seq, string name, int parentIndex, IpvlanMode mode,
        int netnsFd = 0, int mtu = 0)
    {
        Head(b, seq, name, parentIndex, netnsFd, default, mtu);
        var linkInfo = b.BeginNested(Rtnl.IflaLinkInfo);
        b.AttributeStringUnterminated(Rtnl.IflaInfoKind, "ipvlan");
        var data = b.BeginNested(Rtnl.IflaInfoData);
        Span<byte> u16 = stackalloc byte[2];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(u16, (ushort)mode);
        b.AttributeBytes(LowerLink.IflaIpvlanMode, u16);
        u16.Clear();
        b.AttributeBytes(LowerLink.IflaIpvlanFlags, u16);
        b.EndNested(data);
        b.EndNested(linkInfo);
        b.End();
    }

    private static void Head(NetlinkMessageBuilder b, uint seq, string name, int parentIndex, int netnsFd, ReadOnlySpan<byte> mac, int mtu)
    {
        b.Begin(Rtnl.NewLink, CreateExclusive, seq);
        b.IfInfo(Rtnl.AfUnspec, 0);
        if (netnsFd != 0) b.AttributeUInt32(Rtnl.IflaNetNsFd, (uint)netnsFd);
        if (!mac.IsEmpty) b.AttributeBytes(Rtnl.IflaAddress, mac);
        if (mtu != 0) b.AttributeUInt32(Rtnl.IflaMtu, (uint)mtu);
        b.AttributeUInt32(Rtnl.IflaLink, (uint)parentIndex);
        b.AttributeString(Rtnl.IflaIfName, name);
    }
}
