namespace MiniDocker.Network.Tests;

public sealed class InterfaceNamesTests
{
    [Fact]
    public void Names_FitIfnamsizAndAreStable()
    {
        string bridge = InterfaceNames.DefaultBridge("a-network-name-that-is-long-but-valid");
        string veth = InterfaceNames.HostVeth(new string('f', 64), "a-network-name-that-is-long-but-valid");

        Assert.Matches("^mdk-[0-9a-f]{8}$", bridge);
        Assert.Matches("^mdk[0-9a-f]{8}$", veth);
        Assert.True(bridge.Length <= 15 && veth.Length <= 15);
        Assert.Equal(veth, InterfaceNames.HostVeth(new string('f', 64), "a-network-name-that-is-long-but-valid"));
    }

    [Fact]
    public void HostVeth_DependsOnContainerNetworkAndAttempt()
    {
        string name = InterfaceNames.HostVeth("c1", "net");

        Assert.NotEqual(name, InterfaceNames.HostVeth("c2", "net"));
        Assert.NotEqual(name, InterfaceNames.HostVeth("c1", "net2"));
        Assert.NotEqual(name, InterfaceNames.HostVeth("c1", "net", attempt: 1));
        // The separator keeps ("c1", "0net") and ("c10", "net") apart.
        Assert.NotEqual(InterfaceNames.HostVeth("c1", "0net"), InterfaceNames.HostVeth("c10", "net"));
    }

    [Theory]
    [InlineData("eth0", true)]
    [InlineData("mdk-0123abcd", true)]
    [InlineData("exactly15chars_", true)]
    [InlineData("sixteen-chars-xx", false)]
    [InlineData("", false)]
    [InlineData("br 0", false)]
    [InlineData("br:0", false)]
    [InlineData("..", false)]
    [InlineData("brü", false)]
    public void IsValid(string name, bool valid) => Assert.Equal(valid, InterfaceNames.IsValid(name));

    [Fact]
    public void MacFor_IsDockerStyle()
    {
        Assert.Equal("02:42:ac:1d:00:02", NetworkStore.MacFor(System.Net.IPAddress.Parse("172.29.0.2")));
        Assert.Equal("02:42:0a:ff:10:fe", NetworkStore.MacFor(System.Net.IPAddress.Parse("10.255.16.254")));
    }
}
