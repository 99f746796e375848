using System.Net;
using MiniDocker.Network.Diagnostics;
using MiniDocker.Network.Topology;

namespace MiniDocker.Network.Tests.Topology;

/// <summary>doctor's verdicts on made-up host facts (one thing wrong at a time), and the parsers of the kernel's
/// firewall listings and trace events that graph and trace read.</summary>
public class DoctorAndParsingTests
{
    private static readonly HostFacts Healthy = new(
        IpForward: "1", BrNetfilterLoaded: true, BridgeNfCallIptables: "1", ForwardPolicy: "ACCEPT", ForeignChains: [],
        RpFilterAll: "2", ConntrackTool: true, ConntrackModule: true, CgroupMode: "hybrid", SeccompProfile: true,
        Tini: true, IptablesTool: true, NftTool: true);

    private static CheckResult Only(HostFacts facts, string name) => HostDoctor.Check(facts).Single(r => r.Name == name);

    [Fact]
    public void A_healthy_host_is_all_ok()
    {
        Assert.All(HostDoctor.Check(Healthy), r => Assert.Equal(CheckLevel.OK, r.Level));
        Assert.Contains(HostDoctor.Check(Healthy), r => r.Found == "cgroup hybrid");
    }

    [Theory]
    [InlineData("ip_forward", CheckLevel.WARN)]
    [InlineData("br_netfilter", CheckLevel.WARN)]
    [InlineData("FORWARD policy", CheckLevel.WARN)]
    [InlineData("other runtimes", CheckLevel.WARN)]
    [InlineData("rp_filter", CheckLevel.WARN)]
    [InlineData("conntrack", CheckLevel.WARN)]
    [InlineData("cgroups", CheckLevel.FAIL)]
    [InlineData("seccomp profile", CheckLevel.FAIL)]
    [InlineData("tini", CheckLevel.WARN)]
    [InlineData("firewall tool", CheckLevel.FAIL)]
    public void One_thing_wrong_is_reported_with_what_to_do(string check, CheckLevel level)
    {
        HostFacts broken = check switch
        {
            "ip_forward" => Healthy with { IpForward = "0" },
            "br_netfilter" => Healthy with { BridgeNfCallIptables = "0" },
            "FORWARD policy" => Healthy with { ForwardPolicy = "DROP" },
            "other runtimes" => Healthy with { ForeignChains = ["DOCKER", "DOCKER-ISOLATION-STAGE-1"] },
            "rp_filter" => Healthy with { RpFilterAll = "1" },
            "conntrack" => Healthy with { ConntrackTool = false },
            "cgroups" => Healthy with { CgroupMode = "none" },
            "seccomp profile" => Healthy with { SeccompProfile = false },
            "tini" => Healthy with { Tini = false },
            _ => Healthy with { IptablesTool = false, NftTool = false, ForwardPolicy = null },
        };
        var results = HostDoctor.Check(broken);
        var result = results.Single(r => r.Name == check);
        Assert.Equal(level, result.Level);
        Assert.False(string.IsNullOrEmpty(result.Fix));
        // Everything else stays OK: one fault, one report.
        Assert.All(results.Where(r => r.Name != check), r => Assert.Equal(CheckLevel.OK, r.Level));
    }

    [Fact]
    public void Br_netfilter_not_loaded_is_a_warning()
    {
        Assert.Equal(CheckLevel.WARN, Only(Healthy with { BrNetfilterLoaded = false, BridgeNfCallIptables = null }, "br_netfilter").Level);
    }

    [Fact]
    public void Foreign_chains_are_found_in_iptables_save()
    {
        const string saved = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\n" +
                             ":MINIDOCKER-FORWARD - [0:0]\n:CNI-FORWARD - [0:0]\nCOMMIT\n";
        Assert.Equal(["DOCKER", "DOCKER-USER", "CNI-FORWARD"], HostDoctor.ForeignChainsIn(saved));
    }

    [Fact]
    public void Iptables_save_counters_are_read_per_table_and_chain()
    {
        const string saved = "# Generated\n*nat\n:PREROUTING ACCEPT [3:180]\n" +
                             "[7:420] -A MINIDOCKER -p tcp -m tcp --dport 8080 -m comment --comment \"minidocker:ctr:abc\" -j DNAT --to-destination 10.20.0.2:80\n" +
                             "COMMIT\n*filter\n[0:0] -A MINIDOCKER-FORWARD -i mdk-1 ! -o mdk-1 -j ACCEPT\nCOMMIT\n";
        var rules = TopologyReader.ParseIptablesSave(saved).ToList();
        Assert.Equal(2, rules.Count);
        Assert.Equal(("nat", "MINIDOCKER", 7L, 420L), (rules[0].Table, rules[0].Chain, rules[0].Packets, rules[0].Bytes));
        Assert.True(rules[0].IsDnat);
        Assert.Equal("filter", rules[1].Table);
    }

    [Fact]
    public void Nft_table_rules_are_read_with_their_chain_and_counters()
    {
        const string listing = "table ip minidocker {\n\tchain MINIDOCKER {\n\t\ttcp dport 8080 counter packets 5 bytes 300 dnat to 10.20.0.2:80 comment \"x\"\n\t}\n" +
                                "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr 10.20.0.0/24 masquerade\n\t}\n}\n";
        var rules = TopologyReader.ParseNftTable(listing, "minidocker").ToList();
        Assert.Equal(2, rules.Count);
        Assert.Equal(("MINIDOCKER", 5L), (rules[0].Chain, rules[0].Packets));
        Assert.True(rules[0].IsDnat);
        Assert.Equal(-1, rules[1].Packets);
        Assert.True(rules[1].IsMasquerade);
    }

    [Fact]
    public void Trace_events_are_parsed_and_a_drop_is_found()
    {
        var packet = TraceEvent.Parse("host", "trace id 729dc8ed ip filter OUTPUT packet: oif \"lo\" ip saddr 127.0.0.1 ip daddr 127.0.0.1 tcp dport 9");
        var drop = TraceEvent.Parse("host", "trace id 729dc8ed ip filter OUTPUT rule tcp dport 9 counter packets 0 bytes 0 drop (verdict drop)");
        var policy = TraceEvent.Parse("host", "trace id 729dc8ed inet t out policy accept ");
        Assert.Equal(("ip", "filter", "OUTPUT", "packet"), (packet!.Family, packet.Table, packet.Chain, packet.Kind));
        Assert.True(drop!.IsDrop);
        Assert.False(policy!.IsDrop);
        Assert.Null(TraceEvent.Parse("host", "Error: something"));
        var request = new TraceRequest("tcp", IPEndPoint.Parse("127.0.0.1:9"), null, "host", null, "target", TimeSpan.FromSeconds(1));
        string text = PacketTrace.Describe(request, new TraceResult(40000, "no answer within 1 s", [packet, drop]), null);
        Assert.Contains("result: DROPPED at [host] ip filter OUTPUT rule", text);
    }

    [Fact]
    public void The_text_graph_marks_a_down_veth_and_a_missing_address_as_broken()
    {
        var bridge = new LinkView("mdk-1", 5, true, "up", "bridge", null, ["10.20.0.1/24"]);
        var hostEnd = new LinkView("mdkv-1", 6, false, "down", "veth", "mdk-1", []);
        var eth0 = new LinkView("eth0", 2, true, "lowerlayerdown", "veth", null, []);
        var container = new ContainerView("0123456789abcdef", "web", 42, "mdkv-1", "eth0", IPAddress.Parse("10.20.0.2"), 24,
            hostEnd, eth0, ["default via 10.20.0.1 dev eth0"], [], [], [],
            ["host veth mdkv-1 is DOWN", "state says 10.20.0.2/24 on eth0, the kernel has none"]);
        var view = new TopologyView("n", "10.20.0.0/24", IPAddress.Parse("10.20.0.1"), "mdk-1", bridge, null, null, [], [container], []);
        string text = TopologyRenderer.Text(view);
        Assert.Contains("mdkv-1 [!! DOWN] <==veth==> eth0 [!! LOWERLAYERDOWN]", text);
        Assert.Contains("!! state says 10.20.0.2/24 on eth0, the kernel has none", text);
        Assert.Contains("!! no MASQUERADE rule", text);
        Assert.Contains("color=red", TopologyRenderer.Dot(view));
    }

    [Fact]
    public void Names_a_container_chose_cannot_send_escape_sequences_to_the_terminal()
    {
        // Inside its namespace a container with CAP_NET_ADMIN names its links as it likes, control characters included,
        // and its routes name those links.
        var eth0 = new LinkView("eth0", 2, true, "up", "veth", null, ["10.20.0.2/24"]);
        var container = new ContainerView("0123456789abcdef", "web", 42, "mdkv-1", "eth0", IPAddress.Parse("10.20.0.2"), 24,
            null, eth0, ["10.9.0.0/16 dev \u001b]0;pwned\u0007\u009b2J"], [], [], [], []);
        var view = new TopologyView("n", "10.20.0.0/24", IPAddress.Parse("10.20.0.1"), "mdk-1", null, null, null, [], [container], []);
        foreach (var output in new[] { TopologyRenderer.Text(view), TopologyRenderer.Dot(view) })
        {
            Assert.DoesNotContain('\u001b', output);
            Assert.DoesNotContain('\u0007', output);
            Assert.DoesNotContain('\u009b', output);
            Assert.Contains("?]0;pwned?", output);
        }
    }
}
