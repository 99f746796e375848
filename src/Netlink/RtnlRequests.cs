using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MiniDocker.Netlink;

/// <summary>
/// The rtnetlink requests RtNetlink sends, laid out attribute for attribute as iproute2 6.1 lays them out,
/// so that the unit tests can compare them with requests captured from `ip` under strace.
/// </summary>
internal static class RtnlRequests
{
    private const ushort CreateExclusive = Rtnl.Request | Rtnl.Ack | Rtnl.Create | Rtnl.Excl;
    private const ushort Change = Rtnl.Request | Rtnl.Ack;

    public static void GetLink(NetlinkMessageBuilder b, uint seq, string name)
    {
        b.Begin(Rtnl.GetLink, Rtnl.Request, seq);
        b.IfInfo(Rtnl.AfUnspec, 0);
        b.AttributeUInt32(Rtnl.IflaExtMask, Rtnl.ExtMaskSkipStats);
        b.AttributeString(Rtnl.IflaIfName, name);
        b.End();
    }

    public static void DumpLinks(NetlinkMessageBuilder b, uint seq)
    {
        b.Begin(Rtnl.GetLink, Rtnl.Request | Rtnl.Dump, seq);
        b.IfInfo(Rtnl.AfUnspec, 0);
        b.AttributeUInt32(Rtnl.IflaExtMask, Rtnl.ExtMaskSkipStats);
        b.End();
    }

    public static void DumpAddresses(NetlinkMessageBuilder b, uint seq)
    {
        b.Begin(Rtnl.GetAddr, Rtnl.Request | Rtnl.Dump, seq);
        b.IfAddr(Rtnl.AfInet, 0, 0);
        b.End();
    }

    public static void DumpRoutes(NetlinkMessageBuilder b, uint seq)
    {
        b.Begin(Rtnl.GetRoute, Rtnl.Request | Rtnl.Dump, seq);
        b.RtMsg(Rtnl.AfInet, 0, 0, 0, 0, 0);
        b.End();
    }

    /// <param name="mac">empty for a random address, which the kernel then replaces by the lowest MAC among the
    /// bridge's ports whenever one joins or leaves; an address given here is kept for good (NET_ADDR_SET).</param>
    public static void CreateBridge(NetlinkMessageBuilder b, uint seq, string name, ReadOnlySpan<byte> mac = default)
    {
        b.Begin(Rtnl.NewLink, CreateExclusive, seq);
        b.IfInfo(Rtnl.AfUnspec, 0);
        b.AttributeString(Rtnl.IflaIfName, name);
        if (!mac.IsEmpty) b.AttributeBytes(Rtnl.IflaAddress, mac);
        var linkInfo = b.BeginNested(Rtnl.IflaLinkInfo);
        // iproute2 sends the kind without a NUL and names with one; the kernel takes both, and so do we.
        b.AttributeStringUnterminated(Rtnl.IflaInfoKind, "bridge");
        b.EndNested(linkInfo);
        b.End();
    }

    public static void CreateVeth(NetlinkMessageBuilder b, uint seq, string name, string peerName) =>
        Veth(b, seq, name, hostUp: false, masterIndex: null, peerName, peerNetnsFd: null, peerMac: default);

    /// <summary>
    /// One request for what would otherwise take five: the host end created enslaved to <paramref name="masterIndex"/>
    /// and up, the peer created directly inside the namespace behind <paramref name="peerNetnsFd"/> under its final
    /// name and MAC. Moving an existing link between namespaces is what costs (tens of ms on 6.x kernels); creating
    /// it there does not.
    /// </summary>
    public static void CreateVethInto(NetlinkMessageBuilder b, uint seq, string name, int masterIndex, string peerName,
        int peerNetnsFd, ReadOnlySpan<byte> peerMac) =>
        Veth(b, seq, name, hostUp: true, masterIndex, peerName, peerNetnsFd, peerMac);

    private static void Veth(NetlinkMessageBuilder b, uint seq, string name, bool hostUp, int? masterIndex,
        string peerName, int? peerNetnsFd, ReadOnlySpan<byte> peerMac)
    {
        b.Begin(Rtnl.NewLink, CreateExclusive, seq);
        b.IfInfo(Rtnl.AfUnspec, 0, hostUp ? Rtnl.IffUp : 0, hostUp ? Rtnl.IffUp : 0);
        b.AttributeString(Rtnl.IflaIfName, name);
        if (masterIndex is int master) b.AttributeUInt32(Rtnl.IflaMaster, (uint)master);
        var linkInfo = b.BeginNested(Rtnl.IflaLinkInfo);
        b.AttributeStringUnterminated(Rtnl.IflaInfoKind, "veth");
        var data = b.BeginNested(Rtnl.IflaInfoData);
        // VETH_INFO_PEER is not a plain nest: its payload is the peer's own ifinfomsg followed by its attributes.
        var peer = b.BeginNested(Rtnl.VethInfoPeer);
        b.IfInfo(Rtnl.AfUnspec, 0);
        b.AttributeString(Rtnl.IflaIfName, peerName);
        if (!peerMac.IsEmpty) b.AttributeBytes(Rtnl.IflaAddress, peerMac);
        if (peerNetnsFd is int fd) b.AttributeUInt32(Rtnl.IflaNetNsFd, (uint)fd);
        b.EndNested(peer);
        b.EndNested(data);
        b.EndNested(linkInfo);
        b.End();
    }

    public static void SetMaster(NetlinkMessageBuilder b, uint seq, int index, int masterIndex)
    {
        b.Begin(Rtnl.NewLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index);
        b.AttributeUInt32(Rtnl.IflaMaster, (uint)masterIndex);
        b.End();
    }

    public static void SetUp(NetlinkMessageBuilder b, uint seq, int index, bool up)
    {
        b.Begin(Rtnl.NewLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index, flags: up ? Rtnl.IffUp : 0, change: Rtnl.IffUp);
        b.End();
    }

    public static void Rename(NetlinkMessageBuilder b, uint seq, int index, string newName)
    {
        b.Begin(Rtnl.NewLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index);
        b.AttributeString(Rtnl.IflaIfName, newName);
        b.End();
    }

    public static void SetMac(NetlinkMessageBuilder b, uint seq, int index, ReadOnlySpan<byte> mac)
    {
        b.Begin(Rtnl.NewLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index);
        b.AttributeBytes(Rtnl.IflaAddress, mac);
        b.End();
    }

    /// <summary>IFLA_IFALIAS; an empty alias removes it. The kernel takes it only on an existing link (not in the
    /// request that creates one).</summary>
    public static void SetAlias(NetlinkMessageBuilder b, uint seq, int index, string alias)
    {
        b.Begin(Rtnl.NewLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index);
        b.AttributeStringUnterminated(Rtnl.IflaIfAlias, alias);
        b.End();
    }

    public static void SetMtu(NetlinkMessageBuilder b, uint seq, int index, int mtu)
    {
        b.Begin(Rtnl.NewLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index);
        b.AttributeUInt32(Rtnl.IflaMtu, (uint)mtu);
        b.End();
    }

    public static void MoveToNamespace(NetlinkMessageBuilder b, uint seq, int index, int netnsFd)
    {
        b.Begin(Rtnl.NewLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index);
        b.AttributeUInt32(Rtnl.IflaNetNsFd, (uint)netnsFd);
        b.End();
    }

    public static void SetHairpin(NetlinkMessageBuilder b, uint seq, int index, bool on)
    {
        // Bridge-port options live in the AF_BRIDGE handler of RTM_SETLINK, not in the generic RTM_NEWLINK path.
        b.Begin(Rtnl.SetLink, Change, seq);
        b.IfInfo(Rtnl.AfBridge, index);
        var protInfo = b.BeginNested(Rtnl.IflaProtInfo | Rtnl.NlaNested);
        b.AttributeByte(Rtnl.IflaBrportMode, on ? (byte)1 : (byte)0);
        b.EndNested(protInfo);
        b.End();
    }

    public static void DeleteLink(NetlinkMessageBuilder b, uint seq, int index)
    {
        b.Begin(Rtnl.DelLink, Change, seq);
        b.IfInfo(Rtnl.AfUnspec, index);
        b.End();
    }

    public static void AddAddress(NetlinkMessageBuilder b, uint seq, int index, IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[4];
        WriteIPv4(address, bytes);
        b.Begin(Rtnl.NewAddr, CreateExclusive, seq);
        b.IfAddr(Rtnl.AfInet, (byte)prefixLength, index);
        b.AttributeBytes(Rtnl.IfaLocal, bytes);
        b.AttributeBytes(Rtnl.IfaAddress, bytes);
        // Like `ip addr add ... brd +`. A /31 (RFC 3021) or /32 has no broadcast address, so none is set there.
        if (prefixLength <= 30)
        {
            var hostMask = prefixLength == 0 ? uint.MaxValue : uint.MaxValue >> prefixLength;
            var broadcast = BinaryPrimitives.ReadUInt32BigEndian(bytes) | hostMask;
            BinaryPrimitives.WriteUInt32BigEndian(bytes, broadcast);
            b.AttributeBytes(Rtnl.IfaBroadcast, bytes);
        }
        b.End();
    }

    public static void DeleteAddress(NetlinkMessageBuilder b, uint seq, int index, IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[4];
        WriteIPv4(address, bytes);
        b.Begin(Rtnl.DelAddr, Change, seq);
        b.IfAddr(Rtnl.AfInet, (byte)prefixLength, index);
        b.AttributeBytes(Rtnl.IfaLocal, bytes);
        b.AttributeBytes(Rtnl.IfaAddress, bytes);
        b.End();
    }

    /// <param name="outputIndex">0 for no RTA_OIF.</param>
    public static void AddRoute(NetlinkMessageBuilder b, uint seq, IPAddress destination, int prefixLength, IPAddress? gateway, int outputIndex)
    {
        Span<byte> bytes = stackalloc byte[4];
        b.Begin(Rtnl.NewRoute, CreateExclusive, seq);
        // Without a gateway the destination is on the link itself, which is what scope link says (as `ip route` picks).
        var scope = gateway is null ? Rtnl.ScopeLink : Rtnl.ScopeUniverse;
        b.RtMsg(Rtnl.AfInet, (byte)prefixLength, Rtnl.TableMain, Rtnl.ProtocolBoot, scope, Rtnl.TypeUnicast);
        if (prefixLength > 0)
        {
            WriteIPv4(destination, bytes);
            b.AttributeBytes(Rtnl.RtaDst, bytes);
        }
        if (gateway is not null)
        {
            WriteIPv4(gateway, bytes);
            b.AttributeBytes(Rtnl.RtaGateway, bytes);
        }
        if (outputIndex != 0)
            b.AttributeUInt32(Rtnl.RtaOif, (uint)outputIndex);
        b.End();
    }

    public static void DumpAddresses6(NetlinkMessageBuilder b, uint seq)
    {
        b.Begin(Rtnl.GetAddr, Rtnl.Request | Rtnl.Dump, seq);
        b.IfAddr(Rtnl.AfInet6, 0, 0);
        b.End();
    }

    public static void DumpRoutes6(NetlinkMessageBuilder b, uint seq)
    {
        b.Begin(Rtnl.GetRoute, Rtnl.Request | Rtnl.Dump, seq);
        b.RtMsg(Rtnl.AfInet6, 0, 0, 0, 0, 0);
        b.End();
    }

    /// <summary>An IPv6 address with IFA_F_NODAD (like <c>ip addr add A/P dev NAME nodad</c>): usable at once, as the
    /// addresses on a bridge we own are unique by construction (IPAM), and a container must not wait for DAD.</summary>
    public static void AddAddress6(NetlinkMessageBuilder b, uint seq, int index, IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteIPv6(address, bytes);
        b.Begin(Rtnl.NewAddr, CreateExclusive, seq);
        b.IfAddr(Rtnl.AfInet6, (byte)prefixLength, index, Rtnl.IfaFNoDad);
        b.AttributeBytes(Rtnl.IfaLocal, bytes);
        b.End();
    }

    public static void DeleteAddress6(NetlinkMessageBuilder b, uint seq, int index, IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteIPv6(address, bytes);
        b.Begin(Rtnl.DelAddr, Change, seq);
        b.IfAddr(Rtnl.AfInet6, (byte)prefixLength, index);
        b.AttributeBytes(Rtnl.IfaLocal, bytes);
        b.End();
    }

    /// <summary>An IPv6 route in the main table (::/0 is the default route), via a gateway and/or a device.</summary>
    public static void AddRoute6(NetlinkMessageBuilder b, uint seq, IPAddress destination, int prefixLength, IPAddress? gateway, int outputIndex)
    {
        Span<byte> bytes = stackalloc byte[16];
        b.Begin(Rtnl.NewRoute, CreateExclusive, seq);
        // IPv6 routes are always of universe scope (the kernel ignores rtm_scope for AF_INET6).
        b.RtMsg(Rtnl.AfInet6, (byte)prefixLength, Rtnl.TableMain, Rtnl.ProtocolBoot, Rtnl.ScopeUniverse, Rtnl.TypeUnicast);
        if (prefixLength > 0)
        {
            WriteIPv6(destination, bytes);
            b.AttributeBytes(Rtnl.RtaDst, bytes);
        }
        if (gateway is not null)
        {
            WriteIPv6(gateway, bytes);
            b.AttributeBytes(Rtnl.RtaGateway, bytes);
        }
        if (outputIndex != 0)
            b.AttributeUInt32(Rtnl.RtaOif, (uint)outputIndex);
        b.End();
    }

    private static void WriteIPv6(IPAddress address, Span<byte> destination)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || !address.TryWriteBytes(destination, out _))
            throw new ArgumentException($"'{address}' is not an IPv6 address", nameof(address));
    }

    private static void WriteIPv4(IPAddress address, Span<byte> destination)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork || !address.TryWriteBytes(destination, out _))
            throw new ArgumentException($"'{address}' is not an IPv4 address", nameof(address));
    }
}
