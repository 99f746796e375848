using System.Net;
using MiniDocker.Cli;
using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Tests;

public sealed class NameResolutionTests
{
    private const string Host = "search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n";

    [Fact]
    public void User_network_asks_its_gateway_and_keeps_the_hosts_search_and_options()
    {
        Assert.Equal("search corp.example\nnameserver 10.88.0.1\noptions edns0\n",
            NameResolution.ResolvConf(Host, IPAddress.Parse("10.88.0.1"), new ContainerNetworkOptions()));
    }

    [Fact]
    public void Dns_flags_replace_the_hosts_lines()
    {
        var o = new ContainerNetworkOptions { Dns = ["192.0.2.1"], DnsSearch = ["a.test", "b.test"], DnsOptions = ["ndots:3"] };
        Assert.Equal("search a.test b.test\nnameserver 192.0.2.1\noptions ndots:3\n", NameResolution.ResolvConf(Host, null, o));
        Assert.Equal("search a.test b.test\nnameserver 10.88.0.1\nnameserver 192.0.2.1\noptions ndots:3\n",
            NameResolution.ResolvConf(Host, IPAddress.Parse("10.88.0.1"), o));
        // Without any: the host's, loopback servers dropped.
        Assert.Equal("search corp.example\nnameserver 10.0.0.2\noptions edns0\n", NameResolution.ResolvConf(Host, null, new ContainerNetworkOptions()));
    }

    [Theory]
    [InlineData("--dns", "10.0.0.1\nnameserver 6.6.6.6")]
    [InlineData("--dns", "1")]
    [InlineData("--dns-search", "a b")]
    [InlineData("--dns-option", "ndots:1\nnameserver 6.6.6.6")]
    [InlineData("--add-host", "a\nb:1.2.3.4")]
    [InlineData("--add-host", "a:1.2.3.4\n6.6.6.6 b")]
    [InlineData("--add-host", "noaddress")]
    public void Values_that_would_add_lines_are_refused(string flag, string value)
    {
        var o = flag switch
        {
            "--dns" => new ContainerNetworkOptions { Dns = [value] },
            "--dns-search" => new ContainerNetworkOptions { DnsSearch = [value] },
            "--dns-option" => new ContainerNetworkOptions { DnsOptions = [value] },
            _ => new ContainerNetworkOptions { ExtraHosts = [value] },
        };
        Assert.Throws<NetworkException>(() => NameResolution.Validate(o));
    }

    [Fact]
    public void Add_host_lines_with_host_gateway()
    {
        var o = new ContainerNetworkOptions { ExtraHosts = ["db:10.1.2.3", "gw:host-gateway", "v6=[fd00::1]"] };
        Assert.Equal("10.1.2.3\tdb\n10.88.0.1\tgw\nfd00::1\tv6\n", NameResolution.HostsLines(o, IPAddress.Parse("10.88.0.1")));
        Assert.Throws<NetworkException>(() => NameResolution.HostsLines(o, null));
    }
}
