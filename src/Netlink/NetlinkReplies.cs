using System.Net;

namespace MiniDocker.Netlink;

/// <summary>Turns the payload of one data message into a result, or null to skip it.</summary>
internal delegate T? PayloadParser<T>(ReadOnlySpan<byte> payload) where T : class;

/// <summary>What is known so far about the reply to one request.</summary>
internal struct ReplyState
{
    /// <summary>The closing NLMSG_ERROR / NLMSG_DONE, or the single non-multipart answer, has arrived.</summary>
    public bool Complete;

    /// <summary>0, or the positive errno the kernel answered with.</summary>
    public int Errno;

    /// <summary>The kernel's own explanation (extended ACK, NLMSGERR_ATTR_MSG), when it gave one.</summary>
    public string? KernelMessage;

    /// <summary>The table changed while the dump was being split into datagrams: entries may be missing or doubled.</summary>
    public bool DumpInterrupted;
}

internal static class NetlinkReplies
{
    /// <summary>
    /// Consumes one received datagram of the reply to request <paramref name="sequence"/>, adding each parsed
    /// <paramref name="dataType"/> message to <paramref name="results"/>. Call again with the next datagram until
    /// <see cref="ReplyState.Complete"/>: a dump is split over many datagrams.
    /// </summary>
    public static void Scan<T>(ReadOnlySpan<byte> datagram, uint sequence, ushort dataType, PayloadParser<T>? parse,
        List<T>? results, ref ReplyState state) where T : class
    {
        foreach (var message in new NetlinkMessageEnumerator(datagram))
        {
            // Leftovers of an earlier request whose reply was not read to the end (its caller threw) may still be queued.
            if (message.Sequence != sequence)
                continue;
            if ((message.Flags & Rtnl.DumpInterrupted) != 0)
                state.DumpInterrupted = true;
            switch (message.Type)
            {
                case Rtnl.NlmsgNoop:
                    continue;
                case Rtnl.NlmsgError:
                    ReadError(message, ref state);
                    state.Complete = true;
                    return;
                case Rtnl.NlmsgDone:
                    // A dump that fails part-way reports the error as the int payload of NLMSG_DONE.
                    if (message.Payload.Length >= 4 && NetlinkBytes.Int32(message.Payload) < 0)
                        state.Errno = -NetlinkBytes.Int32(message.Payload);
                    state.Complete = true;
                    return;
                default:
                    if (message.Type == dataType && parse is not null && results is not null && parse(message.Payload) is { } value)
                        results.Add(value);
                    if ((message.Flags & Rtnl.Multi) == 0)
                    {
                        state.Complete = true;
                        return;
                    }
                    break;
            }
        }
    }

    private static void ReadError(NetlinkMessage message, ref ReplyState state)
    {
        var payload = message.Payload;
        if (payload.Length < 4)
            throw new InvalidDataException($"NLMSG_ERROR payload of {payload.Length} bytes has no error code");
        state.Errno = -NetlinkBytes.Int32(payload);
        if ((message.Flags & Rtnl.AckTlvs) == 0 || payload.Length < 4 + Rtnl.HeaderLength)
            return;
        // The echoed request is its header alone when NLM_F_CAPPED, else the whole request; the TLVs follow it.
        var echoed = (message.Flags & Rtnl.Capped) != 0 ? Rtnl.HeaderLength : (int)NetlinkBytes.UInt32(payload[4..]);
        var tlvOffset = 4 + NetlinkMessageBuilder.Align(echoed);
        if (tlvOffset >= payload.Length)
            return;
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[tlvOffset..]))
            if (attribute.Type == Rtnl.NlmsgErrAttrMsg)
                state.KernelMessage = attribute.String();
    }
}

/// <summary>Decoders for RTM_NEWLINK, RTM_NEWADDR and RTM_NEWROUTE payloads.</summary>
internal static class RtnlParsers
{
    public static LinkInfo Link(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < Rtnl.IfInfoLength)
            throw new InvalidDataException($"RTM_NEWLINK payload of {payload.Length} bytes is shorter than ifinfomsg");
        var index = NetlinkBytes.Int32(payload[4..]);
        var flags = NetlinkBytes.UInt32(payload[8..]);
        var name = "";
        string? kind = null;
        var master = 0;
        byte[]? mac = null;
        var mtu = 0;
        string? alias = null;
        var operState = "unknown";
        var peer = 0;
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[Rtnl.IfInfoLength..]))
        {
            switch (attribute.Type)
            {
                case Rtnl.IflaIfName: name = attribute.String(); break;
                case Rtnl.IflaMaster: master = (int)attribute.UInt32(); break;
                case Rtnl.IflaAddress: mac = attribute.Payload.ToArray(); break;
                case Rtnl.IflaMtu: mtu = (int)attribute.UInt32(); break;
                case Rtnl.IflaIfAlias: alias = attribute.String(); break;
                case Rtnl.IflaOperState: operState = OperStateName(attribute.Payload.Length > 0 ? attribute.Payload[0] : (byte)0); break;
                case Rtnl.IflaLink: peer = (int)attribute.UInt32(); break;
                case Rtnl.IflaLinkInfo:
                    foreach (var info in attribute.Nested())
                        if (info.Type == Rtnl.IflaInfoKind)
                            kind = info.String();
                    break;
            }
        }
        return new LinkInfo(index, name, kind, master, (flags & Rtnl.IffUp) != 0, mac, mtu, alias, operState, peer);
    }

    // IF_OPER_* of linux/if.h, in order.
    private static string OperStateName(byte state) => state switch
    {
        1 => "notpresent",
        2 => "down",
        3 => "lowerlayerdown",
        4 => "testing",
        5 => "dormant",
        6 => "up",
        _ => "unknown",
    };

    public static AddressInfo? IPv4Address(ReadOnlySpan<byte> payload) => Address(payload, Rtnl.AfInet);

    /// <summary>An IPv6 address of a link (family AF_INET6), or null for any other family.</summary>
    public static AddressInfo? IPv6Address(ReadOnlySpan<byte> payload) => Address(payload, Rtnl.AfInet6);

    public static RouteInfo? IPv4MainRoute(ReadOnlySpan<byte> payload) => MainRoute(payload, Rtnl.AfInet);

    /// <summary>An IPv6 route of the main table, or null for another family or table.</summary>
    public static RouteInfo? IPv6MainRoute(ReadOnlySpan<byte> payload) => MainRoute(payload, Rtnl.AfInet6);

    private static AddressInfo? Address(ReadOnlySpan<byte> payload, byte family)
    {
        if (payload.Length < Rtnl.IfAddrLength)
            throw new InvalidDataException($"RTM_NEWADDR payload of {payload.Length} bytes is shorter than ifaddrmsg");
        if (payload[0] != family)
            return null;
        IPAddress? local = null, address = null;
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[Rtnl.IfAddrLength..]))
        {
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from it only on point-to-point links,
            // where it is the peer's.
            if (attribute.Type == Rtnl.IfaLocal) local = Ip(attribute, family);
            else if (attribute.Type == Rtnl.IfaAddress) address = Ip(attribute, family);
        }
        var own = local ?? address;
        return own is null ? null : new AddressInfo((int)NetlinkBytes.UInt32(payload[4..]), own, payload[1]);
    }

    private static RouteInfo? MainRoute(ReadOnlySpan<byte> payload, byte family)
    {
        if (payload.Length < Rtnl.RtMsgLength)
            throw new InvalidDataException($"RTM_NEWROUTE payload of {payload.Length} bytes is shorter than rtmsg");
        if (payload[0] != family)
            return null;
        // rtm_table is 8 bits; RTA_TABLE carries the full id and wins when present.
        uint table = payload[4];
        IPAddress? destination = null, gateway = null;
        var outputIndex = 0;
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[Rtnl.RtMsgLength..]))
        {
            switch (attribute.Type)
            {
                case Rtnl.RtaTable: table = attribute.UInt32(); break;
                case Rtnl.RtaDst: destination = Ip(attribute, family); break;
                case Rtnl.RtaGateway: gateway = Ip(attribute, family); break;
                case Rtnl.RtaOif: outputIndex = (int)attribute.UInt32(); break;
            }
        }
        // The dump request carries no table filter (the kernel honours one only under NETLINK_GET_STRICT_CHK),
        // so the local table and any policy-routing tables come back too.
        if (table != Rtnl.TableMain)
            return null;
        return new RouteInfo(destination, payload[1], gateway, outputIndex, (byte)table);
    }

    private static IPAddress Ip(NetlinkAttribute attribute, byte family) => family == Rtnl.AfInet6 ? IPv6(attribute) : IPv4(attribute);

    private static IPAddress IPv6(NetlinkAttribute attribute) =>
        attribute.Payload.Length == 16
            ? new IPAddress(attribute.Payload)
            : throw new InvalidDataException($"IPv6 address attribute {attribute.Type} has {attribute.Payload.Length} bytes");

    private static IPAddress IPv4(NetlinkAttribute attribute) =>
        attribute.Payload.Length == 4
            ? new IPAddress(attribute.Payload)
            : throw new InvalidDataException($"IPv4 address attribute {attribute.Type} has {attribute.Payload.Length} bytes");
}
