namespace MiniDocker.Netlink.Tests;

/// <summary>macvlan and ipvlan requests, byte for byte what iproute2 6.1 sent (captured as in <see cref="Captured"/>,
/// in a throwaway namespace whose parent veth mdkp0 had index 3; the target namespace was open as fd 4).</summary>
public class LowerLinkRequestTests
{
    // ip link add link mdkp0 name mdkmv0 type macvlan mode bridge
    private const string Macvlan = "500000001000050683fd0f6b000000000000000000000000000000000000000008000500030000000b0003006d646b6d763000001c0012000b0001006d6163766c616e000c0002000800010004000000";
    // ip link add link mdkp0 name mdkiv0 type ipvlan mode l2
    private const string IpvlanL2 = "580000001000050684fd0f6b000000000000000000000000000000000000000008000500030000000b0003006d646b6976300000240012000a0001006970766c616e00001400020006000100000000000600020000000000";
    // ip link add link mdkp0 name mdkiv1 type ipvlan mode l3
    private const string IpvlanL3 = "580000001000050685fd0f6b000000000000000000000000000000000000000008000500030000000b0003006d646b6976310000240012000a0001006970766c616e00001400020006000100010000000600020000000000";
    // ip link add link mdkp0 name eth0 netns NS address 02:42:c0:00:02:05 type macvlan mode bridge
    private const string MacvlanIntoNamespace = "640000001000050685fd0f6b000000000000000000000000000000000000000008001c00040000000a0001000242c0000205000008000500030000000900030065746830000000001c0012000b0001006d6163766c616e000c0002000800010004000000";

    private readonly NetlinkMessageBuilder _builder = new(initialCapacity: 16);

    private string Encoded => Convert.ToHexStringLower(_builder.Message);

    [Fact]
    public void MacvlanBridgeMode()
    {
        RtnlLowerLinks.CreateMacvlan(_builder, 0x6b0ffd83, "mdkmv0", parentIndex: 3, MacvlanMode.Bridge);
        Assert.Equal(Macvlan, Encoded);
    }

    [Fact]
    public void MacvlanCreatedInAnotherNamespaceWithItsMac()
    {
        RtnlLowerLinks.CreateMacvlan(_builder, 0x6b0ffd85, "eth0", parentIndex: 3, MacvlanMode.Bridge, netnsFd: 4,
            mac: [0x02, 0x42, 0xc0, 0x00, 0x02, 0x05]);
        Assert.Equal(MacvlanIntoNamespace, Encoded);
    }

    [Fact]
    public void IpvlanModes()
    {
        RtnlLowerLinks.CreateIpvlan(_builder, 0x6b0ffd84, "mdkiv0", parentIndex: 3, IpvlanMode.L2);
        Assert.Equal(IpvlanL2, Encoded);
        RtnlLowerLinks.CreateIpvlan(_builder, 0x6b0ffd85, "mdkiv1", parentIndex: 3, IpvlanMode.L3);
        Assert.Equal(IpvlanL3, Encoded);
    }

    [Fact]
    public void MtuGoesBeforeTheParent()
    {
        RtnlLowerLinks.CreateMacvlan(_builder, 1, "eth0", parentIndex: 3, MacvlanMode.Private, mtu: 1400);
        var message = _builder.Message.ToArray();
        // Header 16, ifinfomsg 16, then IFLA_MTU (len 8, type 4) = 1400, then IFLA_LINK (type 5).
        Assert.Equal(new byte[] { 8, 0, 4, 0, 0x78, 0x05, 0, 0, 8, 0, 5, 0, 3, 0, 0, 0 }, message[32..48]);
        // The mode is the last attribute: MACVLAN_MODE_PRIVATE.
        Assert.Equal(new byte[] { 8, 0, 1, 0, 1, 0, 0, 0 }, message[^8..]);
    }
}
