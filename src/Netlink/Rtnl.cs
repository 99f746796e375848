namespace MiniDocker.Netlink;

/// <summary>Constants from linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h, veth.h and if_bridge.h.</summary>
internal static class Rtnl
{
    public const int NetlinkRoute = 0;
    public const int SolNetlink = 270;
    public const int NetlinkCapAck = 10;
    public const int NetlinkExtAck = 11;

    public const int HeaderLength = 16;
    public const int IfInfoLength = 16;
    public const int IfAddrLength = 8;
    public const int RtMsgLength = 12;

    // nlmsghdr.nlmsg_type
    public const ushort NlmsgNoop = 1;
    public const ushort NlmsgError = 2;
    public const ushort NlmsgDone = 3;
    public const ushort NewLink = 16;
    public const ushort DelLink = 17;
    public const ushort GetLink = 18;
    public const ushort SetLink = 19;
    public const ushort NewAddr = 20;
    public const ushort DelAddr = 21;
    public const ushort GetAddr = 22;
    public const ushort NewRoute = 24;
    public const ushort GetRoute = 26;

    // nlmsghdr.nlmsg_flags
    public const ushort Request = 0x1;
    public const ushort Multi = 0x2;
    public const ushort Ack = 0x4;
    public const ushort DumpInterrupted = 0x10;
    public const ushort Dump = 0x300;
    public const ushort Excl = 0x200;
    public const ushort Create = 0x400;
    public const ushort Capped = 0x100;
    public const ushort AckTlvs = 0x200;

    public const ushort NlaNested = 0x8000;
    public const ushort NlaTypeMask = 0x3fff;
    public const ushort NlmsgErrAttrMsg = 1;

    public const byte AfUnspec = 0;
    public const byte AfInet = 2;
    public const byte AfInet6 = 10;
    public const byte AfBridge = 7;

    public const uint IffUp = 0x1;

    // IFLA_*
    public const ushort IflaAddress = 1;
    public const ushort IflaIfName = 3;
    public const ushort IflaMtu = 4;
    public const ushort IflaLink = 5;
    public const ushort IflaMaster = 10;
    public const ushort IflaOperState = 16;
    public const ushort IflaProtInfo = 12;
    public const ushort IflaLinkInfo = 18;
    public const ushort IflaIfAlias = 20;
    public const ushort IflaNetNsFd = 28;
    public const ushort IflaExtMask = 29;
    public const ushort IflaInfoKind = 1;
    public const ushort IflaInfoData = 2;
    public const ushort VethInfoPeer = 1;
    public const ushort IflaBrportMode = 4;

    // RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS, what iproute2 asks for when it resolves a name: the reply
    // then carries no per-link statistics blocks, which are most of its bytes.
    public const uint ExtMaskSkipStats = 9;

    // IFA_*
    public const ushort IfaAddress = 1;
    public const ushort IfaLocal = 2;
    public const ushort IfaBroadcast = 4;
    // IFA_F_NODAD: no duplicate address detection, so the address is usable at once instead of tentative for ~1 s.
    public const byte IfaFNoDad = 0x02;

    // RTA_* and rtmsg fields
    public const ushort RtaDst = 1;
    public const ushort RtaOif = 4;
    public const ushort RtaGateway = 5;
    public const ushort RtaTable = 15;
    public const byte TableMain = 254;
    public const byte ProtocolBoot = 3;
    public const byte ScopeUniverse = 0;
    public const byte ScopeLink = 253;
    public const byte TypeUnicast = 1;
}
