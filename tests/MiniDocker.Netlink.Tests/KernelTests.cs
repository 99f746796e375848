using System.Net;
using System.Text.Json;

namespace MiniDocker.Netlink.Tests;

/// <summary>
/// Against the real kernel (needs root), always inside namespaces the test creates and deletes. Addresses are
/// 10.20x.Y.0/24 with random Y, assigned and used only inside those namespaces.
/// </summary>
public class KernelTests
{
    private static readonly byte[] ContainerMac = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];

    [Fact]
    public void CreateVethInto_PutsThePeerInTheOtherNamespaceNamedAndAddressedInOneRequest()
    {
        TestNetns.With(host => TestNetns.With(container =>
        {
            var suffix = TestNetns.Suffix(3);
            string bridge = $"mdkbr{suffix}", port = $"mdkpa{suffix}";
            RtNetlink.InNamespace(host.Path, netlink =>
            {
                netlink.CreateBridge(bridge);
                using var target = NetNs.Open(container.Path);
                netlink.CreateVethInto(port, bridge, "eth0", target, ContainerMac);

                var hostEnd = netlink.GetLink(port)!;
                Assert.Equal(netlink.GetLink(bridge)!.Index, hostEnd.MasterIndex);
                Assert.True(hostEnd.IsUp);
                Assert.Null(netlink.GetLink("eth0"));

                var e = Assert.Throws<NetlinkException>(() => netlink.CreateVethInto(port, bridge, "eth0", target, ContainerMac));
                Assert.Equal($"veth '{port}': File exists", e.Message);
            });
            var inside = RtNetlink.InNamespace(container.Path, netlink => netlink.GetLink("eth0"));
            Assert.NotNull(inside);
            Assert.Equal("veth", inside.Kind);
            Assert.Equal(ContainerMac, inside.Mac);
            Assert.Contains("\"ifname\":\"eth0\"", container.Exec("ip", "-j", "link", "show", "eth0"));
        }));
    }

    [Fact]
    public void CreateBridge_WithAMac_KeepsItWhenPortsWithLowerMacsJoinAndLeave_AndCarriesItsAlias()
    {
        TestNetns.With(netns =>
        {
            var suffix = TestNetns.Suffix(3);
            string bridge = $"mdkbr{suffix}", fixedBridge = $"mdkbf{suffix}";
            byte[] bridgeMac = [0x02, 0xfe, 0x01, 0x02, 0x03, 0x04];
            byte[] lowMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
            RtNetlink.InNamespace(netns.Path, netlink =>
            {
                netlink.CreateBridge(bridge);            // the kernel's way: the bridge follows its lowest port
                netlink.CreateBridge(fixedBridge, bridgeMac);
                netlink.SetAlias(fixedBridge, "minidocker:net:test");
                foreach (var (master, port) in new[] { (bridge, $"mdkpa{suffix}"), (fixedBridge, $"mdkpf{suffix}") })
                {
                    netlink.CreateVeth(port, port + "p");
                    netlink.SetMac(port, lowMac);
                    netlink.SetMaster(port, master);
                }
                Assert.Equal(lowMac, netlink.GetLink(bridge)!.Mac);
                var fixedLink = netlink.GetLink(fixedBridge)!;
                Assert.Equal(bridgeMac, fixedLink.Mac);
                Assert.Equal("minidocker:net:test", fixedLink.Alias);
                Assert.Null(netlink.GetLink(bridge)!.Alias);
                netlink.DeleteLink($"mdkpf{suffix}");
                Assert.Equal(bridgeMac, netlink.GetLink(fixedBridge)!.Mac);
                Assert.Contains("alias minidocker:net:test", netns.Exec("ip", "-d", "link", "show", fixedBridge));
            });
        });
    }

    [Fact]
    public void BridgeWithEnslavedVethAddressAndRoutes_AsSeenByNetlinkAndByIp()
    {
        TestNetns.With(netns =>
        {
            var suffix = TestNetns.Suffix(3);
            string bridge = $"mdkbr{suffix}", port = $"mdkpa{suffix}", peer = $"mdkpb{suffix}";
            var y = Random.Shared.Next(1, 255);
            var bridgeAddress = IPAddress.Parse($"10.201.{y}.1");
            var gateway = IPAddress.Parse($"10.201.{y}.254");
            var onLinkNet = IPAddress.Parse($"10.202.{y}.0");

            var bridgeIndex = RtNetlink.InNamespace(netns.Path, netlink =>
            {
                netlink.CreateBridge(bridge);
                netlink.CreateVeth(port, peer);
                netlink.SetMaster(port, bridge);
                netlink.SetUp(bridge);
                netlink.SetUp(port);
                netlink.SetUp(peer);
                netlink.AddAddress(bridge, bridgeAddress, 24);
                netlink.AddRoute(IPAddress.Any, 0, gateway, device: null);
                netlink.AddRoute(onLinkNet, 24, gateway: null, device: bridge);
                netlink.SetMtu(peer, 1400);
                netlink.SetMac(peer, ContainerMac);
                netlink.SetHairpin(port, on: true);

                var links = netlink.ListLinks();
                Assert.Equal(new[] { "lo", bridge, peer, port }.Order(StringComparer.Ordinal), links.Select(l => l.Name).Order(StringComparer.Ordinal));
                var bridgeLink = links.Single(l => l.Name == bridge);
                Assert.Equal("bridge", bridgeLink.Kind);
                Assert.True(bridgeLink.IsUp);
                var portLink = links.Single(l => l.Name == port);
                Assert.Equal("veth", portLink.Kind);
                Assert.Equal(bridgeLink.Index, portLink.MasterIndex);
                Assert.True(portLink.IsUp);
                var peerLink = netlink.GetLink(peer)!;
                Assert.Equal(1400, peerLink.Mtu);
                Assert.Equal(ContainerMac, peerLink.Mac);
                Assert.Equal(0, peerLink.MasterIndex);

                Assert.Equal([new AddressInfo(bridgeLink.Index, bridgeAddress, 24)], netlink.ListAddresses());

                var routes = netlink.ListRoutes();
                Assert.Contains(new RouteInfo(null, 0, gateway, bridgeLink.Index, 254), routes);
                Assert.Contains(new RouteInfo(onLinkNet, 24, null, bridgeLink.Index, 254), routes);
                Assert.Contains(new RouteInfo(IPAddress.Parse($"10.201.{y}.0"), 24, null, bridgeLink.Index, 254), routes);
                Assert.Equal(3, routes.Count); // the local table's entries (10.201.y.1, broadcast) are not main
                return bridgeLink.Index;
            });

            var bridgeJson = IpJson(netns, "-d", "link", "show", "dev", bridge)[0];
            Assert.Equal("bridge", bridgeJson.GetProperty("linkinfo").GetProperty("info_kind").GetString());
            Assert.Contains("UP", bridgeJson.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
            var portJson = IpJson(netns, "-d", "link", "show", "dev", port)[0];
            Assert.Equal(bridge, portJson.GetProperty("master").GetString());
            Assert.True(portJson.GetProperty("linkinfo").GetProperty("info_slave_data").GetProperty("hairpin").GetBoolean());
            var peerJson = IpJson(netns, "link", "show", "dev", peer)[0];
            Assert.Equal(1400, peerJson.GetProperty("mtu").GetInt32());
            Assert.Equal("02:42:ac:11:00:02", peerJson.GetProperty("address").GetString());

            var address = IpJson(netns, "-4", "addr", "show", "dev", bridge)[0].GetProperty("addr_info")[0];
            Assert.Equal(bridgeAddress.ToString(), address.GetProperty("local").GetString());
            Assert.Equal(24, address.GetProperty("prefixlen").GetInt32());
            Assert.Equal($"10.201.{y}.255", address.GetProperty("broadcast").GetString());

            var routes = IpJson(netns, "-4", "route", "show");
            var defaultRoute = routes.Single(r => r.GetProperty("dst").GetString() == "default");
            Assert.Equal(gateway.ToString(), defaultRoute.GetProperty("gateway").GetString());
            Assert.Equal(bridge, defaultRoute.GetProperty("dev").GetString());
            var onLink = routes.Single(r => r.GetProperty("dst").GetString() == $"10.202.{y}.0/24");
            Assert.Equal(bridge, onLink.GetProperty("dev").GetString());
            Assert.Equal("link", onLink.GetProperty("scope").GetString());
            Assert.Equal(bridgeIndex, IpJson(netns, "link", "show", "dev", bridge)[0].GetProperty("ifindex").GetInt32());
        });
    }

    [Fact]
    public void DeletingAddressAndOneVethEnd_RemovesTheAddressAndThePair()
    {
        TestNetns.With(netns =>
        {
            var suffix = TestNetns.Suffix(3);
            string end = $"mdkda{suffix}", peer = $"mdkdb{suffix}";
            var address = IPAddress.Parse($"10.204.{Random.Shared.Next(1, 255)}.7");

            RtNetlink.InNamespace(netns.Path, netlink =>
            {
                netlink.CreateVeth(end, peer);
                netlink.AddAddress(end, address, 24);
                netlink.DeleteAddress(end, address, 24);
                Assert.Empty(netlink.ListAddresses());
                netlink.DeleteLink(peer);
                Assert.Null(netlink.GetLink(end));
                Assert.Equal(["lo"], netlink.ListLinks().Select(l => l.Name));
            });

            Assert.Equal(["lo"], IpJson(netns, "link", "show").Select(l => l.GetProperty("ifname").GetString()));
        });
    }

    [Fact]
    public void VethEndMovedIntoSecondNamespace_IsConfiguredThereAndPingsAcrossTheBridge()
    {
        TestNetns.With(hostSide => TestNetns.With(containerSide =>
        {
            var suffix = TestNetns.Suffix(3);
            string bridge = $"mdkbr{suffix}", hostEnd = $"mdkh{suffix}", containerEnd = $"mdkc{suffix}";
            var y = Random.Shared.Next(1, 255);
            var bridgeAddress = IPAddress.Parse($"10.203.{y}.1");
            var containerAddress = IPAddress.Parse($"10.203.{y}.2");

            RtNetlink.InNamespace(hostSide.Path, netlink =>
            {
                netlink.CreateBridge(bridge);
                netlink.AddAddress(bridge, bridgeAddress, 24);
                netlink.SetUp(bridge);
                netlink.CreateVeth(hostEnd, containerEnd);
                netlink.SetMaster(hostEnd, bridge);
                netlink.SetUp(hostEnd);
                using var target = NetNs.Open(containerSide.Path);
                netlink.MoveToNamespace(containerEnd, target);
                Assert.Null(netlink.GetLink(containerEnd));
            });

            RtNetlink.InNamespace(containerSide.Path, netlink =>
            {
                netlink.Rename(containerEnd, "eth0");
                netlink.AddAddress("eth0", containerAddress, 24);
                netlink.SetUp("lo");
                netlink.SetUp("eth0");
                netlink.AddRoute(IPAddress.Any, 0, bridgeAddress, device: null);
                var eth0 = netlink.GetLink("eth0")!;
                Assert.Equal("veth", eth0.Kind);
                Assert.Contains(new RouteInfo(null, 0, bridgeAddress, eth0.Index, 254), netlink.ListRoutes());
            });

            var eth0Json = IpJson(containerSide, "-4", "addr", "show", "dev", "eth0")[0];
            Assert.Equal(containerAddress.ToString(), eth0Json.GetProperty("addr_info")[0].GetProperty("local").GetString());
            var defaultRoute = IpJson(containerSide, "-4", "route", "show", "default")[0];
            Assert.Equal(bridgeAddress.ToString(), defaultRoute.GetProperty("gateway").GetString());

            containerSide.Exec("busybox", "ping", "-c1", "-W1", bridgeAddress.ToString());
            hostSide.Exec("busybox", "ping", "-c1", "-W1", containerAddress.ToString());
        }));
    }

    [Fact]
    public void KernelErrorsNameTheObject()
    {
        TestNetns.With(netns => RtNetlink.InNamespace(netns.Path, netlink =>
        {
            var suffix = TestNetns.Suffix(3);
            string veth = $"mdkx{suffix}", peer = $"mdky{suffix}", bridge = $"mdkbr{suffix}", missing = $"nosuch{suffix}";
            netlink.CreateVeth(veth, peer);
            netlink.CreateBridge(bridge);

            var exists = Assert.Throws<NetlinkException>(() => netlink.CreateVeth(veth, $"mdkz{suffix}"));
            Assert.Equal($"veth '{veth}': File exists", exists.Message);
            Assert.Equal(17, exists.Errno);
            Assert.Equal($"bridge '{bridge}': File exists",
                Assert.Throws<NetlinkException>(() => netlink.CreateBridge(bridge)).Message);

            var noDevice = Assert.Throws<NetlinkException>(() => netlink.SetUp(missing));
            Assert.Equal($"link '{missing}': No such device", noDevice.Message);
            Assert.Equal(19, noDevice.Errno);
            Assert.Equal($"link '{missing}': No such device",
                Assert.Throws<NetlinkException>(() => netlink.SetMaster(veth, missing)).Message);
            Assert.Null(netlink.GetLink(missing));

            Assert.Equal($"rename link '{veth}' to '{peer}': File exists",
                Assert.Throws<NetlinkException>(() => netlink.Rename(veth, peer)).Message);
            Assert.Equal($"set link '{veth}' mtu 70000: Invalid argument (mtu greater than device maximum)",
                Assert.Throws<NetlinkException>(() => netlink.SetMtu(veth, 70000)).Message);

            // The socket stays usable after errors: replies are matched by sequence number.
            Assert.Equal(veth, netlink.GetLink(veth)!.Name);
        }));
    }

    [Fact]
    public void InNamespaceRunsInTheTargetNamespaceAndRethrowsTheWorksException()
    {
        var callerNamespace = File.ResolveLinkTarget("/proc/thread-self/ns/net", returnFinalTarget: false)!.FullName;
        TestNetns.With(netns =>
        {
            Assert.Equal(["lo"], RtNetlink.InNamespace(netns.Path, netlink => netlink.ListLinks().Select(l => l.Name).ToList()));

            var thrown = new InvalidOperationException("from inside");
            Assert.Same(thrown, Assert.Throws<InvalidOperationException>(() => RtNetlink.InNamespace(netns.Path, _ => throw thrown)));
        });
        Assert.Equal(callerNamespace, File.ResolveLinkTarget("/proc/thread-self/ns/net", returnFinalTarget: false)!.FullName);

        var missing = $"/run/netns/mdktest-{TestNetns.Suffix(4)}";
        Assert.Equal($"netns '{missing}': No such file or directory",
            Assert.Throws<NetlinkException>(() => RtNetlink.InNamespace(missing, _ => { })).Message);
    }

    private static List<JsonElement> IpJson(TestNetns netns, params string[] arguments)
    {
        using var document = JsonDocument.Parse(Shell.Run("ip", ["-n", netns.Name, "-j", .. arguments]));
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }
}

/// <summary>
/// The commit watch against real nft processes in a throwaway namespace: a successful transaction is announced
/// (and already in force when the watch says so), a failed one is not, and other processes' commits do not count.
/// </summary>
public class NfTablesCommitWatchTests
{
    /// <summary>Runs `nft -f` with <paramref name="script"/> under the watch, as ToolRunner does (followed before it
    /// gets its input); <paramref name="atReturn"/> sees the namespace the moment the watch returns, before the
    /// tool's exit is awaited.</summary>
    private static (bool Announced, int ExitCode) RunWatched(TestNetns netns, NfTablesCommitWatch watch, string script,
        int commits, Action? atReturn = null)
    {
        var start = new System.Diagnostics.ProcessStartInfo("nsenter")
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { $"--net={netns.Path}", "--", "nft", "-f", "-" })
            start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        watch.Follow(process.Id);
        process.StandardInput.Write(script);
        process.StandardInput.Close();
        bool announced = watch.WaitForCommits(commits, TimeSpan.FromSeconds(10));
        atReturn?.Invoke();
        process.WaitForExit();
        return (announced, process.ExitCode);
    }

    [Fact]
    public void ACommittedDeletionIsAnnouncedAndInForceBeforeTheToolExits()
    {
        TestNetns.With(netns =>
        {
            netns.Exec("nft", "add table ip mdkwatch; add chain ip mdkwatch c; add rule ip mdkwatch c tcp dport 1 accept");
            using var watch = NfTablesCommitWatch.Open(netns.Path);
            var result = RunWatched(netns, watch, "delete table ip mdkwatch\n", 1,
                atReturn: () => Assert.DoesNotContain("mdkwatch", netns.Exec("nft", "list", "tables")));
            Assert.Equal((true, 0), result);
        });
    }

    [Fact]
    public void AFailedTransactionIsNotAnnounced_TheWatchReturnsAtTheExit()
    {
        TestNetns.With(netns =>
        {
            using var watch = NfTablesCommitWatch.Open(netns.Path);
            var (announced, exitCode) = RunWatched(netns, watch, "delete table ip mdkwatch-none\n", 1);
            Assert.False(announced);
            Assert.NotEqual(0, exitCode);
        });
    }

    [Fact]
    public void WaitsForEveryTransaction_AndCountsOnlyTheWatchedProcess()
    {
        TestNetns.With(netns =>
        {
            using var watch = NfTablesCommitWatch.Open(netns.Path);
            // Another process's commit first, then the watched one's: only the latter may count.
            netns.Exec("nft", "add table ip mdkother");
            var result = RunWatched(netns, watch, "add table ip mdkwatch\n", 1,
                atReturn: () => Assert.Contains("mdkwatch", netns.Exec("nft", "list", "tables")));
            Assert.Equal((true, 0), result);

            // Asking for two commits of a tool that makes one: the watch returns at its exit, not before.
            Assert.Equal((false, 0), RunWatched(netns, watch, "delete table ip mdkwatch\n", 2));
        });
    }

    [Fact]
    public void CountCommits_ReadsNewGenMessagesByTheirProcessId()
    {
        // NEWGEN as the kernel sends it: nlmsghdr, nfgenmsg, NFTA_GEN_ID, NFTA_GEN_PROC_PID (big-endian), NAME.
        static byte[] NewGen(int pid, ushort type = (10 << 8) | 15)
        {
            var m = new List<byte>();
            m.AddRange(BitConverter.GetBytes(16 + 4 + 8 + 8 + 12));
            m.AddRange(BitConverter.GetBytes(type));
            m.AddRange(new byte[10]);
            m.AddRange(new byte[] { 0, 0, 0, 0 });
            m.AddRange(new byte[] { 8, 0, 1, 0, 0, 0, 0, 7 });
            m.AddRange(new byte[] { 8, 0, 2, 0 });
            m.AddRange(new[] { (byte)(pid >> 24), (byte)(pid >> 16), (byte)(pid >> 8), (byte)pid });
            m.AddRange(new byte[] { 12, 0, 3, 0, (byte)'n', (byte)'f', (byte)'t', 0, 0, 0, 0, 0 });
            return m.ToArray();
        }
        byte[] datagram = [.. NewGen(4242), .. NewGen(77), .. NewGen(4242, type: (10 << 8) | 6), .. NewGen(4242)];
        Assert.Equal(2, NfTablesCommitWatch.CountCommits(datagram, 4242));
        Assert.Equal(1, NfTablesCommitWatch.CountCommits(datagram, 77));
        Assert.Equal(0, NfTablesCommitWatch.CountCommits(datagram.AsSpan(0, 10), 4242));
    }
}
