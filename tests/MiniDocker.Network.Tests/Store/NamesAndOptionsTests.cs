using System.Net;

namespace MiniDocker.Network.Tests;

/// <summary>aardvark-dns's configuration as rendered from the records, driver options, --ip-range.</summary>
public sealed class NamesAndOptionsTests
{
    private static NetworkRecord Net(string name, string subnet = "10.88.5.0/24") =>
        new(name, "bridge", Subnet.Parse(subnet), Subnet.Parse(subnet).FirstHost, "mdk-x", DateTimeOffset.UnixEpoch, new Dictionary<string, string>());

    private const string Id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private static EndpointRecord Endpoint(string network, string ip, string? name, params string[] aliases) =>
        new(Id, network, "mdk1", "eth0", IPAddress.Parse(ip), "02:42:0a:58:05:02", [], name, aliases);

    [Fact]
    public void Renders_one_file_per_named_network_with_gateway_then_id_address_empty_ipv6_and_names()
    {
        var files = AardvarkDns.Render([Net("web"), Net("bridge", "172.29.0.0/16"), Net("empty", "10.88.6.0/24")],
            [Endpoint("web", "10.88.5.2", "app", "db"), Endpoint("bridge", "172.29.0.2", "app")]);
        // The default network has no names (as Docker), a network without containers no file.
        Assert.Equal(["web"], files.Keys);
        Assert.Equal($"10.88.5.1\n{Id} 10.88.5.2  app,db,{Id[..12]}\n", files["web"]);
    }

    [Fact]
    public void A_name_that_would_add_a_line_or_an_entry_is_left_out()
    {
        // Whatever wrote the record (an edited state file), a newline, space or comma never reaches the file.
        var files = AardvarkDns.Render([Net("web")],
            [Endpoint("web", "10.88.5.2", "ok", "evil\nffffffffffff 10.88.5.9  victim", "a,b", "a b")]);
        Assert.Equal($"10.88.5.1\n{Id} 10.88.5.2  ok,{Id[..12]}\n", files["web"]);
    }

    [Theory]
    [InlineData("x\ny")]
    [InlineData("a,b")]
    [InlineData("a b")]
    [InlineData("")]
    [InlineData("-lead")]
    public void Dns_names_refuse_separators(string name) =>
        Assert.Throws<NetworkException>(() => NetworkOptions.ValidateDnsName(name, "alias"));

    [Fact]
    public void Driver_options_take_our_names_and_dockers()
    {
        Assert.Equal(new NetworkOptions.Parsed("br1", 1400),
            NetworkOptions.Parse(new Dictionary<string, string> { ["com.docker.network.bridge.name"] = "br1", ["mtu"] = "1400" }));
        Assert.Equal(new NetworkOptions.Parsed("br2", 9000),
            NetworkOptions.Parse(new Dictionary<string, string> { ["bridge-name"] = "br2", ["com.docker.network.driver.mtu"] = "9000" }));
        Assert.Throws<NetworkException>(() => NetworkOptions.Parse(new Dictionary<string, string> { ["mtu"] = "67" }));
        Assert.Throws<NetworkException>(() => NetworkOptions.Parse(new Dictionary<string, string> { ["bridge-name"] = "a", ["com.docker.network.bridge.name"] = "b" }));
        Assert.Throws<NetworkException>(() => NetworkOptions.Parse(new Dictionary<string, string> { ["com.docker.network.bridge.enable_icc"] = "false" }));
    }

    [Fact]
    public void Ip_range_must_lie_in_the_subnet_and_bounds_automatic_addresses()
    {
        var subnet = Subnet.Parse("10.88.7.0/24");
        Assert.Throws<NetworkException>(() => NetworkOptions.ParseIpRange("10.88.8.0/25", subnet));
        Assert.Throws<NetworkException>(() => NetworkOptions.ParseIpRange("10.88.0.0/16", subnet));
        var range = NetworkOptions.ParseIpRange("10.88.7.252/30", subnet)!.Value;

        string root = Path.Combine(Path.GetTempPath(), "mdk-range-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var ipam = new Ipam(root);
            var got = Enumerable.Range(0, 3).Select(i => ipam.Allocate("n", subnet, subnet.FirstHost, $"c{i}", null, out _, range).ToString()).ToList();
            // .252-.255 minus the broadcast address.
            Assert.Equal(["10.88.7.252", "10.88.7.253", "10.88.7.254"], got);
            Assert.Throws<NetworkException>(() => ipam.Allocate("n", subnet, subnet.FirstHost, "c9", null, out _, range));
            // A requested address may lie outside the range, as in Docker.
            Assert.Equal("10.88.7.9", ipam.Allocate("n", subnet, subnet.FirstHost, "c8", IPAddress.Parse("10.88.7.9"), out _, range).ToString());
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
