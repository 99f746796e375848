using System.Net;

namespace MiniDocker.Netlink.Tests;

/// <summary>Each request must be byte-for-byte what iproute2 sent for the same operation.</summary>
public class RequestEncodingTests
{
    private readonly NetlinkMessageBuilder _builder = new(initialCapacity: 16); // small, so growing is exercised too

    private string Encoded => Convert.ToHexStringLower(_builder.Message);

    [Fact]
    public void BridgeCreate()
    {
        RtnlRequests.CreateBridge(_builder, Captured.Seq99, "mdkbr0");
        Assert.Equal(Captured.CreateBridge, Encoded);
    }

    [Fact]
    public void VethCreateWithPeer()
    {
        RtnlRequests.CreateVeth(_builder, Captured.Seq99, "mdkT1", "mdkT2");
        Assert.Equal(Captured.CreateVeth, Encoded);
    }

    [Fact]
    public void SetMaster()
    {
        RtnlRequests.SetMaster(_builder, Captured.Seq99, index: 4, masterIndex: 2);
        Assert.Equal(Captured.SetMaster, Encoded);
    }

    [Fact]
    public void SetUpAndDown()
    {
        RtnlRequests.SetUp(_builder, Captured.Seq99, index: 4, up: true);
        Assert.Equal(Captured.SetUp, Encoded);
        RtnlRequests.SetUp(_builder, Captured.Seq9A, index: 4, up: false);
        Assert.Equal(Captured.SetDown, Encoded);
    }

    [Fact]
    public void AddAddressWithBroadcast()
    {
        RtnlRequests.AddAddress(_builder, Captured.Seq99, index: 2, IPAddress.Parse("10.77.1.1"), 24);
        Assert.Equal(Captured.AddAddress, Encoded);
    }

    [Fact]
    public void AddAddressOnSlash31HasNoBroadcast()
    {
        RtnlRequests.AddAddress(_builder, Captured.Seq99, index: 2, IPAddress.Parse("10.77.1.1"), 31);
        // Header, ifaddrmsg, IFA_LOCAL, IFA_ADDRESS and nothing after.
        Assert.Equal(16 + 8 + 8 + 8, _builder.Message.Length);
    }

    [Fact]
    public void DeleteAddress()
    {
        RtnlRequests.DeleteAddress(_builder, Captured.Seq9A, index: 2, IPAddress.Parse("10.77.1.1"), 24);
        Assert.Equal(Captured.DeleteAddress, Encoded);
    }

    [Fact]
    public void DefaultRouteViaGateway()
    {
        RtnlRequests.AddRoute(_builder, Captured.Seq99, IPAddress.Any, 0, IPAddress.Parse("10.77.1.254"), outputIndex: 0);
        Assert.Equal(Captured.AddDefaultRoute, Encoded);
    }

    [Fact]
    public void RouteViaGatewayAndDevice()
    {
        RtnlRequests.AddRoute(_builder, Captured.Seq99, IPAddress.Parse("10.88.0.0"), 16, IPAddress.Parse("10.77.1.254"), outputIndex: 2);
        Assert.Equal(Captured.AddRouteViaDev, Encoded);
    }

    [Fact]
    public void RouteOnLinkHasLinkScope()
    {
        RtnlRequests.AddRoute(_builder, Captured.Seq99, IPAddress.Parse("10.99.0.0"), 24, gateway: null, outputIndex: 2);
        Assert.Equal(Captured.AddRouteOnLink, Encoded);
    }

    [Fact]
    public void Rename()
    {
        RtnlRequests.Rename(_builder, Captured.Seq9A, index: 4, "mdkT3");
        Assert.Equal(Captured.Rename, Encoded);
    }

    [Fact]
    public void SetMac()
    {
        RtnlRequests.SetMac(_builder, Captured.Seq9B, index: 4, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        Assert.Equal(Captured.SetMac, Encoded);
    }

    [Fact]
    public void SetMtu()
    {
        RtnlRequests.SetMtu(_builder, Captured.Seq9A, index: 4, 1400);
        Assert.Equal(Captured.SetMtu, Encoded);
    }

    [Fact]
    public void SetHairpin()
    {
        RtnlRequests.SetHairpin(_builder, Captured.Seq9B, index: 4, on: true);
        Assert.Equal(Captured.SetHairpin, Encoded);
    }

    [Fact]
    public void MoveToNamespaceByFd()
    {
        RtnlRequests.MoveToNamespace(_builder, Captured.Seq9A, index: 3, netnsFd: 4);
        Assert.Equal(Captured.MoveToNamespace, Encoded);
    }

    [Fact]
    public void DeleteLink()
    {
        RtnlRequests.DeleteLink(_builder, Captured.Seq9A, index: 4);
        Assert.Equal(Captured.DeleteLink, Encoded);
    }

    [Fact]
    public void GetLinkByName()
    {
        RtnlRequests.GetLink(_builder, Captured.GetLinkSeq, "mdkv0");
        Assert.Equal(Captured.GetLink, Encoded);
    }

    [Fact]
    public void NonIPv4AddressIsRejected()
    {
        Assert.Throws<ArgumentException>(() => RtnlRequests.AddAddress(_builder, 1, 2, IPAddress.IPv6Loopback, 64));
    }
}

public class AttributeAlignmentTests
{
    [Theory]
    [InlineData("lo", "07000300" + "6c6f00" + "00")]           // 3-byte string: length 7, one pad byte
    [InlineData("eth0", "09000300" + "6574683000" + "000000")] // 5-byte string: length 9, three pad bytes
    [InlineData("mdkT", "09000300" + "6d646b5400" + "000000")]
    [InlineData("abcdefg", "0c000300" + "6162636465666700")]   // 8 bytes: already aligned, no padding
    public void StringAttributeLengthExcludesPaddingButMessageIncludesIt(string value, string expectedAttribute)
    {
        var builder = new NetlinkMessageBuilder();
        builder.Begin(Rtnl.NewLink, Rtnl.Request, 1);
        builder.AttributeString(Rtnl.IflaIfName, value);
        var message = builder.End();

        Assert.Equal(expectedAttribute, Convert.ToHexStringLower(message[16..]));
        Assert.Equal(0, message.Length % 4);
        Assert.Equal(message.Length, BitConverter.ToInt32(message[..4]));
    }

    [Fact]
    public void NestedLengthCoversPaddedChildrenAndFollowingAttributeIsAligned()
    {
        var builder = new NetlinkMessageBuilder();
        builder.Begin(Rtnl.SetLink, Rtnl.Request, 1);
        var nest = builder.BeginNested(Rtnl.IflaProtInfo | Rtnl.NlaNested);
        builder.AttributeByte(Rtnl.IflaBrportMode, 1);  // length 5, padded to 8
        builder.AttributeString(Rtnl.IflaInfoKind, "x"); // length 6, padded to 8
        builder.EndNested(nest);
        builder.AttributeUInt32(Rtnl.IflaMtu, 1500);
        var attributes = builder.End()[16..];

        Assert.Equal("14000c80" + "0500040001000000" + "0600010078000000" + "08000400dc050000", Convert.ToHexStringLower(attributes));

        var seen = new List<(ushort Type, int Length)>();
        foreach (var attribute in new NetlinkAttributeEnumerator(attributes))
            seen.Add((attribute.Type, attribute.Payload.Length));
        // NLA_F_NESTED is masked off the type when reading; payload lengths exclude padding.
        Assert.Equal([(Rtnl.IflaProtInfo, 16), (Rtnl.IflaMtu, 4)], seen);
    }

    [Fact]
    public void AttributeLongerThanItsContainerIsRejected()
    {
        var bytes = Convert.FromHexString("0c000300" + "6c6f0000");
        Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var _ in new NetlinkAttributeEnumerator(bytes)) { }
        });
    }
}
