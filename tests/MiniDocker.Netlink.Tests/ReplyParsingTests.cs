using System.Net;

namespace MiniDocker.Netlink.Tests;

/// <summary>Kernel replies captured under strace, fed through the same code RtNetlink uses on its socket.</summary>
public class ReplyParsingTests
{
    private static ReplyState ScanAck(string datagramHex, uint sequence)
    {
        var state = new ReplyState();
        NetlinkReplies.Scan<LinkInfo>(Convert.FromHexString(datagramHex), sequence, 0, null, null, ref state);
        return state;
    }

    [Fact]
    public void ErrorReplyCarriesErrnoAndBecomesANamedException()
    {
        var reply = ScanAck(Captured.ErrorExists, Captured.ErrorSeq);

        Assert.True(reply.Complete);
        Assert.Equal(17, reply.Errno);
        Assert.Null(reply.KernelMessage);
        var error = new NetlinkException("veth", "mdkv0", reply.Errno);
        Assert.Equal("veth 'mdkv0': File exists", error.Message);
        Assert.Equal(17, error.Errno);
    }

    [Fact]
    public void SuccessAckCompletesWithoutError()
    {
        var reply = ScanAck(Captured.Ack, Captured.ErrorSeq);

        Assert.True(reply.Complete);
        Assert.Equal(0, reply.Errno);
    }

    [Fact]
    public void ExtendedAckMessageIsKeptAndShownAfterStrerror()
    {
        var reply = ScanAck(Captured.ErrorWithExtAck, Captured.ExtAckSeq);

        Assert.True(reply.Complete);
        Assert.Equal(22, reply.Errno);
        Assert.Equal("mtu greater than device maximum", reply.KernelMessage);
        var error = new NetlinkException("set link", "mdkv0", reply.Errno, "mtu 70000", reply.KernelMessage);
        Assert.Equal("set link 'mdkv0' mtu 70000: Invalid argument (mtu greater than device maximum)", error.Message);
    }

    [Fact]
    public void ReplyToAnotherSequenceNumberIsIgnored()
    {
        var reply = ScanAck(Captured.ErrorExists, Captured.ErrorSeq + 1);

        Assert.False(reply.Complete);
        Assert.Equal(0, reply.Errno);
    }

    [Fact]
    public void AddressDumpSpansTwoDatagramsAndEndsAtDone()
    {
        var addresses = new List<AddressInfo>();
        var state = new ReplyState();

        NetlinkReplies.Scan(Convert.FromHexString(Captured.AddressDump), Captured.AddressDumpSeq, Rtnl.NewAddr, RtnlParsers.IPv4Address, addresses, ref state);
        Assert.False(state.Complete);
        NetlinkReplies.Scan(Convert.FromHexString(Captured.AddressDumpDone), Captured.AddressDumpSeq, Rtnl.NewAddr, RtnlParsers.IPv4Address, addresses, ref state);

        Assert.True(state.Complete);
        Assert.Equal(0, state.Errno);
        Assert.False(state.DumpInterrupted);
        Assert.Equal(
            [new AddressInfo(1, IPAddress.Parse("127.0.0.1"), 8), new AddressInfo(3, IPAddress.Parse("10.77.3.1"), 24)],
            addresses);
    }

    [Fact]
    public void RouteDumpParsesDefaultAndConnectedRoutes()
    {
        var routes = new List<RouteInfo>();
        var state = new ReplyState();

        NetlinkReplies.Scan(Convert.FromHexString(Captured.RouteDump), Captured.RouteDumpSeq, Rtnl.NewRoute, RtnlParsers.IPv4MainRoute, routes, ref state);
        Assert.False(state.Complete);
        NetlinkReplies.Scan(Convert.FromHexString(Captured.RouteDumpDone), Captured.RouteDumpSeq, Rtnl.NewRoute, RtnlParsers.IPv4MainRoute, routes, ref state);

        Assert.True(state.Complete);
        Assert.Equal(
            [
                new RouteInfo(null, 0, IPAddress.Parse("10.77.3.254"), 3, 254),
                new RouteInfo(IPAddress.Parse("10.77.3.0"), 24, null, 3, 254),
            ],
            routes);
    }

    [Fact]
    public void LinkDumpParsesNameKindStateMacMtu()
    {
        var links = new List<LinkInfo>();
        var state = new ReplyState();

        NetlinkReplies.Scan(Convert.FromHexString(Captured.LinkDump), Captured.LinkDumpSeq, Rtnl.NewLink, RtnlParsers.Link, links, ref state);
        NetlinkReplies.Scan(Convert.FromHexString(Captured.LinkDumpDone), Captured.LinkDumpSeq, Rtnl.NewLink, RtnlParsers.Link, links, ref state);

        Assert.True(state.Complete);
        Assert.Equal(["lo", "mdkv1", "mdkv0"], links.Select(l => l.Name));
        Assert.Equal([1, 2, 3], links.Select(l => l.Index));
        Assert.Equal([null, "veth", "veth"], links.Select(l => l.Kind));
        Assert.Equal([65536, 1500, 1500], links.Select(l => l.Mtu));
        Assert.All(links, l => Assert.True(l.IsUp));
        Assert.All(links, l => Assert.Equal(0, l.MasterIndex));
        Assert.Equal("000000000000", Convert.ToHexStringLower(links[0].Mac!));
        Assert.Equal("5ebc44688076", Convert.ToHexStringLower(links[1].Mac!));
        Assert.Equal("ca3f5ff6d06a", Convert.ToHexStringLower(links[2].Mac!));
    }

    [Fact]
    public void DoneCarryingANegativeErrorFailsTheDump()
    {
        // NLMSG_DONE, NLM_F_MULTI, seq 7, payload -ENOBUFS (-105).
        var done = Convert.FromHexString("1400000003000200070000000000000097ffffff");
        var state = new ReplyState();

        NetlinkReplies.Scan(done, 7, Rtnl.NewLink, RtnlParsers.Link, new List<LinkInfo>(), ref state);

        Assert.True(state.Complete);
        Assert.Equal(105, state.Errno);
    }

    [Fact]
    public void InterruptedDumpIsFlagged()
    {
        // The captured address dump with NLM_F_DUMP_INTR (0x10) added to the first message's flags.
        var datagram = Convert.FromHexString(Captured.AddressDump);
        datagram[6] |= 0x10;
        var state = new ReplyState();

        NetlinkReplies.Scan(datagram, Captured.AddressDumpSeq, Rtnl.NewAddr, RtnlParsers.IPv4Address, new List<AddressInfo>(), ref state);

        Assert.True(state.DumpInterrupted);
    }

    [Fact]
    public void MessageLengthBeyondTheDatagramIsRejected()
    {
        var truncated = Convert.FromHexString(Captured.ErrorExists)[..40];
        var state = new ReplyState();

        Assert.Throws<InvalidDataException>(() =>
            NetlinkReplies.Scan<LinkInfo>(truncated, Captured.ErrorSeq, 0, null, null, ref state));
    }
}
