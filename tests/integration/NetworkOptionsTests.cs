using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>`network create` options and several networks per container through the iptables backend.</summary>
public sealed class IptablesNetworkOptionsTests() : NetworkOptionsTests("iptables");

/// <summary>The same through the nftables backend.</summary>
public sealed class NftablesNetworkOptionsTests() : NetworkOptionsTests("nftables");

/// <summary>--internal, --ip-range, mtu, Docker's bridge-name spelling, labels, prune; run with two networks,
/// connect and disconnect live. Names are not asked here (no query may leave for the host's resolvers).</summary>
public abstract class NetworkOptionsTests : IDisposable
{
    private readonly LoopbackResolvers _resolvers = new();
    private readonly MiniDocker _md;

    protected NetworkOptionsTests(string firewall) => _md = new(firewall: firewall, launcher: _resolvers.Launcher);

    private readonly string _sfx = Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(1, 255);
    private string Net(char c) => "o" + c + _sfx;
    private string Subnet(int n) => $"10.{243 + n}.{_octet}.0/24";
    private string Ip(int n, int host) => $"10.{243 + n}.{_octet}.{host}";

    public void Dispose()
    {
        _md.Dispose();
        _resolvers.Dispose();
        GC.SuppressFinalize(this);
    }

    private Result Md(params string[] args) => _md.Run(args);

    private void Ok(Result r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static string FirewallRules() =>
        Sh.Try("iptables-save").Out + Sh.Try("nft", "list", "table", "ip", "minidocker").Out;

    private static string[] HostVeths() =>
        Sh.Run("ip", "-o", "link", "show", "type", "veth").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':')[1].Trim().Split('@')[0]).Where(n => n.StartsWith("mdk")).ToArray();

    private string WebServer(string name, params string[] args)
    {
        var r = Md(["run", "-d", .. args, "--name", name, "busybox", "sh", "-c",
            "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]);
        Ok(r);
        return r.Stdout.Trim();
    }

    private Result Fetch(string container, string address) =>
        Md("exec", container, "sh", "-c", $"timeout 3 wget -qO- http://{address}/; exit $?");

    [Fact]
    public void Internal_network_has_no_way_out_and_publishes_nothing()
    {
        Ok(Md("network", "create", "--internal", "--subnet", Subnet(0), Net('i')));
        using var wan = new WanNamespace();
        wan.ServeRemoteAddr(8000);
        WebServer("srv" + _sfx, "--net", Net('i'), "--hostname", "srv");
        var client = Md("run", "-d", "--net", Net('i'), "-p", "8080:80", "--name", "cli" + _sfx, "busybox", "sleep", "300");
        Ok(client);
        Assert.Contains("Published ports are discarded on internal network", client.Stderr);
        Assert.Equal("", Md("port", "cli" + _sfx).Stdout);

        // No default route inside, and none to borrow: the host forwards nothing out of the bridge.
        Assert.DoesNotContain("default", Md("exec", "cli" + _sfx, "ip", "route").Stdout);
        Assert.NotEqual(0, Fetch("cli" + _sfx, $"{wan.WanAddress}:8000").ExitCode);
        var routed = Md("exec", "cli" + _sfx, "sh", "-c", $"ip route add default via {Ip(0, 1)} 2>&1; timeout 3 wget -qO- http://{wan.WanAddress}:8000/cgi-bin/ip; exit $?");
        Assert.NotEqual(0, routed.ExitCode); // the container has no NET_ADMIN; and were it routed, the firewall drops it
        // Containers on it reach each other.
        Assert.Equal("srv\n", Fetch("cli" + _sfx, Ip(0, 2)).Stdout);

        // The rules are in their canonical form: a reconcile finds nothing to change.
        string before = FirewallRules();
        Ok(Md("network", "reconcile"));
        Assert.Equal(before.Split('\n').Where(l => l.Contains(Net('i'))).Order(), FirewallRules().Split('\n').Where(l => l.Contains(Net('i'))).Order());
        Assert.Contains("DROP", string.Join('\n', before.Split('\n').Where(l => l.Contains(Net('i')))), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(before.Split('\n').Where(l => l.Contains(Net('i'))), l => l.Contains("MASQUERADE", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Internal_network_with_a_privileged_container_still_cannot_reach_the_upstream()
    {
        Ok(Md("network", "create", "--internal", "--subnet", Subnet(0), Net('i')));
        using var wan = new WanNamespace();
        wan.ServeRemoteAddr(8000);
        // The attacker adds the route itself (NET_ADMIN): the firewall still drops what leaves the bridge.
        var r = Md("run", "--rm", "--net", Net('i'), "--cap-add", "NET_ADMIN", "busybox", "sh", "-c",
            $"ip route add default via {Ip(0, 1)} && timeout 3 wget -qO- http://{wan.WanAddress}:8000/cgi-bin/ip; exit $?");
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain(wan.HostAddress, r.Stdout);
        // The same container on a normal network gets out (so the drop above is the internal rule's doing).
        Ok(Md("network", "create", "--subnet", Subnet(1), Net('n')));
        var outside = Md("run", "--rm", "--net", Net('n'), "busybox", "sh", "-c", $"timeout 3 wget -qO- http://{wan.WanAddress}:8000/cgi-bin/ip; exit $?");
        Assert.Equal(wan.HostAddress + "\n", outside.Stdout);
    }

    [Fact]
    public void Ip_range_mtu_docker_bridge_name_labels_and_prune()
    {
        string bridge = "mdkb" + _sfx;
        Ok(Md("network", "create", "--subnet", Subnet(0), "--ip-range", $"10.243.{_octet}.128/25", "--gateway", Ip(0, 254),
            "-o", $"com.docker.network.bridge.name={bridge}", "-o", "mtu=1400", "--label", "team=blue", Net('a')));
        Ok(Md("network", "create", "--subnet", Subnet(1), Net('b')));
        Ok(Md("network", "create", "--subnet", Subnet(2), Net('c')));
        Assert.Equal("1400\n", File.ReadAllText($"/sys/class/net/{bridge}/mtu"));

        var r = Md("run", "--rm", "--net", Net('a'), "busybox", "sh", "-c", "cat /sys/class/net/eth0/mtu; ip -o -4 addr show eth0; ip route");
        Ok(r);
        Assert.StartsWith("1400\n", r.Stdout);
        Assert.Contains($"inet 10.243.{_octet}.128/24", r.Stdout); // the first address of the range
        Assert.Contains($"default via {Ip(0, 254)}", r.Stdout);

        var inspect = JsonDocument.Parse(Md("network", "inspect", Net('a')).Stdout).RootElement[0];
        Assert.Equal("blue", inspect.GetProperty("Labels").GetProperty("team").GetString());
        Assert.Equal($"10.243.{_octet}.128/25", inspect.GetProperty("IPRange").GetString());
        Assert.Equal(bridge, inspect.GetProperty("Bridge").GetString());
        Assert.Equal(1400, inspect.GetProperty("MTU").GetInt32());
        Assert.Equal(Net('a') + "\n", Md("network", "ls", "--filter", "label=team=blue", "--format", "{{.Name}}").Stdout);
        Assert.Equal("", Md("network", "ls", "--filter", "label=team=red", "--format", "{{.Name}}").Stdout);

        var badRange = Md("network", "create", "--subnet", $"10.249.{_octet}.0/24", "--ip-range", "10.1.0.0/24", Net('x'));
        Assert.Equal(125, badRange.ExitCode);
        Assert.Contains("not inside subnet", badRange.Stderr);
        Assert.NotEqual(0, Md("network", "create", "--subnet", $"10.249.{_octet}.0/24", "-o", "mtu=9x", Net('x')).ExitCode);

        // prune: what no container uses goes; a network in use stays.
        Ok(Md("run", "-d", "--net", Net('c'), "--name", "keep" + _sfx, "busybox", "sleep", "300"));
        var pruned = Md("network", "prune", "-f");
        Ok(pruned);
        Assert.Contains(Net('a'), pruned.Stdout);
        Assert.Contains(Net('b'), pruned.Stdout);
        Assert.DoesNotContain(Net('c'), pruned.Stdout);
        Assert.Equal([Net('c')], _md.Networks().Where(n => n != "bridge"));
        Assert.False(Directory.Exists($"/sys/class/net/{bridge}"));
        Assert.DoesNotContain(Net('a'), FirewallRules());
    }

    [Fact]
    public void Two_networks_at_run_and_live_connect_disconnect()
    {
        Ok(Md("network", "create", "--subnet", Subnet(0), Net('a')));
        Ok(Md("network", "create", "--subnet", Subnet(1), Net('b')));
        Ok(Md("network", "create", "--subnet", Subnet(2), Net('c')));
        WebServer("wb" + _sfx, "--net", Net('b'), "--hostname", "web-b");
        WebServer("wc" + _sfx, "--net", Net('c'), "--hostname", "web-c");
        Ok(Md("run", "-d", "--net", Net('a'), "--name", "cl" + _sfx, "busybox", "sleep", "300"));

        // Before: a and b are isolated.
        Assert.NotEqual(0, Fetch("cl" + _sfx, Ip(1, 2)).ExitCode);
        Ok(Md("network", "connect", "--ip", Ip(1, 50), "--alias", "client", Net('b'), "cl" + _sfx));
        var inside = Md("exec", "cl" + _sfx, "sh", "-c", "ip -o -4 addr show eth1; ip route");
        Assert.Contains($"inet {Ip(1, 50)}/24", inside.Stdout);
        Assert.Contains($"default via {Ip(0, 1)} dev eth0", inside.Stdout); // the default route stays on the first network
        Assert.Equal("web-b\n", Fetch("cl" + _sfx, Ip(1, 2)).Stdout);
        Assert.NotEqual(0, Fetch("cl" + _sfx, Ip(2, 2)).ExitCode); // still not on c
        var networks = JsonDocument.Parse(Md("inspect", "cl" + _sfx).Stdout).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks");
        Assert.Equal(Ip(1, 50), networks.GetProperty(Net('b')).GetProperty("IPAddress").GetString());
        Assert.Equal("client", networks.GetProperty(Net('b')).GetProperty("Aliases")[0].GetString());

        var twice = Md("network", "connect", Net('b'), "cl" + _sfx);
        Assert.Equal(125, twice.ExitCode);
        Assert.Contains("already attached", twice.Stderr);

        Ok(Md("network", "disconnect", Net('b'), "cl" + _sfx));
        Assert.DoesNotContain("eth1", Md("exec", "cl" + _sfx, "ip", "-o", "link").Stdout);
        Assert.NotEqual(0, Fetch("cl" + _sfx, Ip(1, 2)).ExitCode);
        Assert.NotEqual(0, Md("network", "disconnect", Net('b'), "cl" + _sfx).ExitCode);
        // Disconnecting the last network of a running container is allowed (as Docker): only lo is left.
        Ok(Md("network", "disconnect", Net('a'), "cl" + _sfx));
        Assert.DoesNotContain("eth0", Md("exec", "cl" + _sfx, "ip", "-o", "link").Stdout);

        // Two networks from the start: eth0 on a (default route), eth1 on b; c stays out of reach.
        Ok(Md("run", "-d", "--net", Net('a'), "--net", Net('b'), "--name", "two" + _sfx, "busybox", "sleep", "300"));
        var two = Md("exec", "two" + _sfx, "sh", "-c", "ip -o -4 addr; ip route").Stdout;
        Assert.Matches($@"eth0\s+inet 10\.243\.{_octet}\.\d+/24", two);
        Assert.Matches($@"eth1\s+inet 10\.244\.{_octet}\.\d+/24", two);
        Assert.Contains($"default via {Ip(0, 1)} dev eth0", two);
        Assert.Equal("web-b\n", Fetch("two" + _sfx, Ip(1, 2)).Stdout);
        Assert.NotEqual(0, Fetch("two" + _sfx, Ip(2, 2)).ExitCode);
        var both = JsonDocument.Parse(Md("inspect", "two" + _sfx).Stdout).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks");
        Assert.True(both.TryGetProperty(Net('a'), out _) && both.TryGetProperty(Net('b'), out _));

        // rm leaves nothing: no veth (of ours: other tests make theirs meanwhile), no endpoint, no address.
        var ours = new[] { "two", "cl", "wb", "wc" }.SelectMany(c =>
            JsonDocument.Parse(Md("inspect", c + _sfx).Stdout).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks")
                .EnumerateObject().Where(n => n.Value.TryGetProperty("HostVeth", out _)).Select(n => n.Value.GetProperty("HostVeth").GetString()!)).ToList();
        Assert.Equal(4, ours.Count); // two: a and b; wb, wc: one each; cl: none left after its disconnects
        Ok(Md("rm", "-f", "two" + _sfx, "cl" + _sfx, "wb" + _sfx, "wc" + _sfx));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (HostVeths().Intersect(ours).Any() && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.Empty(HostVeths().Intersect(ours));
        foreach (char n in "abc")
        {
            string endpoints = Path.Combine(_md.Root, "networks", "endpoints", Net(n));
            Assert.True(!Directory.Exists(endpoints) || Directory.GetFiles(endpoints).Length == 0);
            Assert.DoesNotContain("\"10.", File.ReadAllText(Path.Combine(_md.Root, "networks", "ipam", Net(n) + ".json")).Split("Allocations")[1]);
        }
        Ok(Md("network", "rm", Net('a'), Net('b'), Net('c')));
        Assert.DoesNotContain(_sfx, FirewallRules());
        Assert.False(Directory.Exists(Path.Combine("/run/minidocker/aardvark", StateRoots.ScopeOf(_md.Root))));
    }
}
