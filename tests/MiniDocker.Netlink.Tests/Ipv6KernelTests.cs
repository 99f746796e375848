using System.Net;

namespace MiniDocker.Netlink.Tests;

/// <summary>IPv6 addresses (nodad) and routes against the real kernel, in a namespace of the test's own.</summary>
public sealed class Ipv6KernelTests
{
    [Fact]
    public void A_nodad_ipv6_address_and_a_default_route_via_it_are_usable_at_once_and_listed()
    {
        TestNetns.With(netns =>
        {
            var suffix = TestNetns.Suffix(3);
            string end = $"mdk6a{suffix}", peer = $"mdk6b{suffix}";
            var address = IPAddress.Parse("fd42:6::2");
            var gateway = IPAddress.Parse("fd42:6::1");
            RtNetlink.InNamespace(netns.Path, netlink =>
            {
                netlink.CreateVeth(end, peer);
                netlink.AddAddress6(end, address, 64);
                netlink.SetUp(peer);
                netlink.SetUp(end);
                netlink.AddRoute6(IPAddress.IPv6Any, 0, gateway, end);
                var listed = netlink.ListAddresses6().Single(a => a.Address.Equals(address));
                Assert.Equal(64, listed.PrefixLength);
                Assert.Contains(netlink.ListRoutes6(), r => r.Destination is null && r.PrefixLength == 0 && gateway.Equals(r.Gateway));
                Assert.Throws<ArgumentException>(() => netlink.AddAddress6(end, IPAddress.Parse("10.0.0.1"), 24));
                netlink.DeleteAddress6(end, address, 64);
                Assert.DoesNotContain(netlink.ListAddresses6(), a => a.Address.Equals(address));
            });
        });
    }

    [Fact]
    public void The_address_is_not_tentative()
    {
        TestNetns.With(netns =>
        {
            var suffix = TestNetns.Suffix(3);
            string end = $"mdk6c{suffix}", peer = $"mdk6d{suffix}";
            RtNetlink.InNamespace(netns.Path, netlink =>
            {
                netlink.CreateVeth(end, peer);
                netlink.SetUp(peer);
                netlink.SetUp(end);
                netlink.AddAddress6(end, IPAddress.Parse("fd42:7::2"), 64);
            });
            string shown = netns.Exec("ip", "-6", "addr", "show", "dev", end);
            Assert.Contains("inet6 fd42:7::2/64 scope global nodad", shown);
            Assert.DoesNotContain("tentative", shown.Split('\n').First(l => l.Contains("fd42:7::2")));
        });
    }
}
