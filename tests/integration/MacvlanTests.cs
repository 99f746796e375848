using System.Net;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// A simulated LAN: a namespace (lanXXXXXX) joined to the host by a veth pair whose host end (mdkpXXXXXX, up, no
/// address) is the parent of the macvlan/ipvlan networks, and whose other end (lan0) has the LAN's router address.
/// The subnet is a /28 of the documentation ranges (192.0.2.0/24, 203.0.113.0/24) that no host route touches.
/// No traffic ever reaches the host's own interfaces. Removed on dispose (deleting either end deletes the pair).
/// </summary>
public sealed class LanNamespace : IDisposable
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    public string Name => "lan" + _suffix;
    public string Parent => "mdkp" + _suffix;
    public string Subnet { get; }
    public string Router { get; }
    private readonly int _base;
    private readonly string _prefix;
    private readonly List<System.Diagnostics.Process> _servers = new();

    public LanNamespace()
    {
        (_prefix, _base) = FreeBlock();
        Subnet = $"{_prefix}.{_base}/28";
        Router = Host(1);
        Sh.Run("ip", "netns", "add", Name);
        try
        {
            Sh.Run("ip", "link", "add", Parent, "type", "veth", "peer", "name", "lan0", "netns", Name);
            Sh.Run("ip", "link", "set", Parent, "up");
            Exec("ip", "addr", "add", Router + "/28", "dev", "lan0");
            Exec("ip", "link", "set", "lan0", "up");
            Exec("ip", "link", "set", "lo", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The subnet's Nth address.</summary>
    public string Host(int n) => $"{_prefix}.{_base + n}";

    /// <summary>A /28 of the documentation ranges that no IPv4 route of the host overlaps.</summary>
    private static (string Prefix, int Base) FreeBlock()
    {
        var routes = Sh.Run("ip", "-4", "route", "show", "table", "all").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(d => d.Contains('.') && char.IsDigit(d[0])).ToList();
        for (int attempt = 0; attempt < 100; attempt++)
        {
            string prefix = Random.Shared.Next(2) == 0 ? "192.0.2" : "203.0.113";
            int block = Random.Shared.Next(16) * 16;
            if (!routes.Any(r => Overlaps(r, $"{prefix}.{block}/28"))) return (prefix, block);
        }
        throw new InvalidOperationException("no free /28 in 192.0.2.0/24 or 203.0.113.0/24");
    }

    private static bool Overlaps(string a, string b)
    {
        static (uint Net, int Len) P(string s)
        {
            var parts = s.Split('/');
            int len = parts.Length == 2 ? int.Parse(parts[1]) : 32;
            uint addr = (uint)IPAddress.NetworkToHostOrder(BitConverter.ToInt32(IPAddress.Parse(parts[0]).GetAddressBytes()));
            return (len == 0 ? 0 : addr & (uint.MaxValue << (32 - len)), len);
        }
        var (na, la) = P(a);
        var (nb, lb) = P(b);
        int len = Math.Min(la, lb);
        uint mask = len == 0 ? 0 : uint.MaxValue << (32 - len);
        return (na & mask) == (nb & mask);
    }

    public string Exec(params string[] args) => Sh.Run("ip", ["netns", "exec", Name, .. args]);
    public (int Code, string Out, string Err) TryExec(params string[] args) => Sh.Try("ip", ["netns", "exec", Name, .. args]);

    /// <summary>busybox httpd on the router address, serving a page that names the LAN.</summary>
    public void Serve(int port)
    {
        string dir = Path.Combine(Path.GetTempPath(), Name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "index.html"), "lan\n");
        var psi = new System.Diagnostics.ProcessStartInfo("ip", ["netns", "exec", Name, "busybox", "httpd", "-f", "-p", $"{Router}:{port}", "-h", dir]);
        _servers.Add(System.Diagnostics.Process.Start(psi)!);
        Thread.Sleep(200);
    }

    /// <summary>Whether this kernel makes ipvlan links: tried in the LAN namespace, on its own end of the pair.</summary>
    public bool KernelHasIpvlan()
    {
        bool made = TryExec("ip", "link", "add", "probe0", "link", "lan0", "type", "ipvlan", "mode", "l2").Code == 0;
        if (made) TryExec("ip", "link", "del", "probe0");
        return made;
    }

    /// <summary>The MAC the LAN's neighbour table has for an address, or "" when it has none.</summary>
    public string NeighbourMac(string address)
    {
        var words = Exec("ip", "neigh", "show", address, "dev", "lan0").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.IndexOf(words, "lladdr");
        return at >= 0 ? words[at + 1] : "";
    }

    public void Dispose()
    {
        foreach (var s in _servers) { try { s.Kill(); s.WaitForExit(); } catch (InvalidOperationException) { } }
        Sh.Try("ip", "link", "del", Parent);
        Sh.Try("ip", "netns", "del", Name);
        try { Directory.Delete(Path.Combine(Path.GetTempPath(), Name), true); } catch (IOException) { }
    }
}

/// <summary>`network create --driver macvlan|ipvlan -o parent=IF`: containers on a simulated LAN, bad input, cleanup.</summary>
public sealed class MacvlanTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly LanNamespace _lan = new();
    private readonly string _sfx = Guid.NewGuid().ToString("N")[..6];

    public void Dispose()
    {
        _md.Dispose();
        _lan.Dispose();
        // The root is gone: nothing of this test's may be left on the host (no link named after our parent's suffix,
        // no namespace).
        Assert.DoesNotContain(_lan.Parent, Sh.Run("ip", "-o", "link"));
        Assert.DoesNotContain(_lan.Name, Sh.Run("ip", "netns", "list"));
    }

    private Result Md(params string[] args) => _md.Run(args);

    private static void Ok(Result r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static void Refused(Result r, string message)
    {
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains(message, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    private string Net(string what) => what + _sfx;

    private Result CreateNetwork(string name, string driver, params string[] options) =>
        Md(["network", "create", "--driver", driver, "--subnet", _lan.Subnet, "--gateway", _lan.Router, .. options, name]);

    private string WebServer(string name, string network)
    {
        var r = Md("run", "-d", "--net", network, "--name", name, "busybox", "sh", "-c",
            "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www");
        Ok(r);
        return r.Stdout.Trim();
    }

    private string AddressOf(string container) =>
        Md("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container).Stdout.Trim();

    private int Endpoints(string network)
    {
        using var doc = JsonDocument.Parse(Md("network", "inspect", network).Stdout);
        return doc.RootElement[0].GetProperty("Containers").EnumerateObject().Count();
    }

    /// <summary>`ip -d link show IF` in the container's namespace, by the host's iproute2 (busybox's has no details).</summary>
    private string ContainerLink(string container, string link = "eth0") =>
        Sh.Run("nsenter", "-t", Md("inspect", "-f", "{{.State.Pid}}", container).Stdout.Trim(), "-n", "ip", "-d", "link", "show", link);

    private static string[] HostLinks() =>
        Sh.Run("ip", "-o", "link").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[1].Trim()).Order().ToArray();

    private string FromLan(string address) => _lan.TryExec("sh", "-c", $"timeout 3 busybox wget -qO- http://{address}/; exit $?").Out;

    [Fact]
    public void Macvlan_containers_are_on_the_lan_with_their_own_mac()
    {
        Ok(CreateNetwork(Net("mv"), "macvlan", "-o", $"parent={_lan.Parent}"));
        _lan.Serve(8000);
        WebServer("web" + _sfx, Net("mv"));
        Ok(Md("run", "-d", "--net", Net("mv"), "--name", "cli" + _sfx, "busybox", "sleep", "300"));
        string web = AddressOf("web" + _sfx), cli = AddressOf("cli" + _sfx);
        Assert.Equal(_lan.Host(2), web);
        Assert.Equal(_lan.Host(3), cli);

        // eth0 is a macvlan child of the parent, in bridge mode, with the MAC derived from its address.
        string link = ContainerLink("web" + _sfx);
        Assert.Contains("macvlan mode bridge", link);
        string mac = "02:42:" + string.Join(':', IPAddress.Parse(web).GetAddressBytes().Select(b => b.ToString("x2")));
        Assert.Contains($"link/ether {mac}", link);
        Assert.Contains($"default via {_lan.Router} dev eth0", Md("exec", "cli" + _sfx, "ip", "route").Stdout);

        // From the LAN: ping and HTTP to the container; the LAN learnt the container's own MAC.
        var ping = _lan.TryExec("busybox", "ping", "-c", "1", "-W", "2", web);
        Assert.True(ping.Code == 0, ping.Out + ping.Err);
        Assert.Equal(Md("exec", "web" + _sfx, "hostname").Stdout, FromLan(web));
        Assert.Equal(mac, _lan.NeighbourMac(web));
        // From the container: the LAN's router and its web server; and one container to the other.
        Ok(Md("exec", "cli" + _sfx, "ping", "-c", "1", "-W", "2", _lan.Router));
        Assert.Equal("lan\n", Md("exec", "cli" + _sfx, "sh", "-c", $"timeout 3 wget -qO- http://{_lan.Router}:8000/; exit $?").Stdout);
        Assert.NotEmpty(Md("exec", "cli" + _sfx, "sh", "-c", $"timeout 3 wget -qO- http://{web}/; exit $?").Stdout);

        // Nothing on the host: eth0 hangs off the parent itself (eth0@ifN, N the parent's index), no bridge of this
        // root exists, and no rule names the network. (The host's whole link list is not compared: other runs on
        // this host add and remove theirs meanwhile.)
        string parentIndex = File.ReadAllText($"/sys/class/net/{_lan.Parent}/ifindex").Trim();
        Assert.Contains($"eth0@if{parentIndex}:", link);
        NothingOfThisRootOnTheHost();
        Assert.DoesNotContain(Net("mv"), Sh.Try("iptables-save").Out + Sh.Try("nft", "list", "ruleset").Out);

        // What a user reads back.
        string ls = Md("network", "ls").Stdout;
        Assert.Matches($@"{Net("mv")}\s+macvlan\s+{_lan.Subnet.Replace(".", "\\.")}", ls);
        using (var doc = JsonDocument.Parse(Md("network", "inspect", Net("mv")).Stdout))
        {
            var n = doc.RootElement[0];
            Assert.Equal("macvlan", n.GetProperty("Driver").GetString());
            Assert.Equal(_lan.Parent, n.GetProperty("Options").GetProperty("parent").GetString());
            Assert.Equal(2, n.GetProperty("Containers").EnumerateObject().Count());
        }

        // rm takes the children with the namespaces; the network goes; the LAN keeps working for the next one.
        Ok(Md("rm", "-f", "web" + _sfx, "cli" + _sfx));
        Assert.NotEqual(0, _lan.TryExec("busybox", "ping", "-c", "1", "-W", "1", web).Code);
        Ok(Md("network", "rm", Net("mv")));
        Assert.Empty(_md.Networks());
        NothingOfThisRootOnTheHost();
    }

    private void NothingOfThisRootOnTheHost()
    {
        string scope = StateRoots.ScopeOf(_md.Root);
        Assert.DoesNotContain(HostLinks(), l => l.StartsWith("mdk0-" + scope, StringComparison.Ordinal));
        Assert.DoesNotContain($"minidocker:net:{scope}:", Sh.Run("ip", "-d", "-o", "link", "show", "type", "bridge"));
    }

    [Fact]
    public void Ipvlan_l2_containers_are_on_the_lan_with_the_parents_mac()
    {
        Ok(CreateNetwork(Net("iv"), "ipvlan", "-o", $"parent={_lan.Parent}", "-o", "ipvlan_mode=l2"));
        var r = Md("run", "-d", "--net", Net("iv"), "--name", "web" + _sfx, "busybox", "sh", "-c",
            "mkdir -p /www && echo iv > /www/index.html && exec httpd -f -p 80 -h /www");
        if (!_lan.KernelHasIpvlan())
        {
            // A kernel without ipvlan (this test VM's: CONFIG_IPVLAN is not set): the run says so, and leaves nothing.
            Refused(r, $"this kernel has no ipvlan driver (CONFIG_IPVLAN): network {Net("iv")} cannot be used here");
            Assert.Empty(Md("ps", "-aq").Stdout.Trim());
            Assert.Equal(0, Endpoints(Net("iv")));
            return;
        }
        Ok(r);
        Ok(Md("run", "-d", "--net", Net("iv"), "--name", "cli" + _sfx, "busybox", "sleep", "300"));
        string web = AddressOf("web" + _sfx);
        Assert.Contains("ipvlan", ContainerLink("web" + _sfx));
        Assert.Equal("iv\n", FromLan(web));
        string parentMac = Sh.Run("cat", $"/sys/class/net/{_lan.Parent}/address").Trim();
        Assert.Equal(parentMac, _lan.NeighbourMac(web));
        Ok(Md("exec", "cli" + _sfx, "ping", "-c", "1", "-W", "2", _lan.Router));
        Assert.Equal("iv\n", Md("exec", "cli" + _sfx, "sh", "-c", $"timeout 3 wget -qO- http://{web}/; exit $?").Stdout);
        Ok(Md("rm", "-f", "web" + _sfx, "cli" + _sfx));
        Ok(Md("network", "rm", Net("iv")));
    }

    [Fact]
    public void Published_ports_are_refused_before_anything_is_made()
    {
        Ok(CreateNetwork(Net("mv"), "macvlan", "-o", $"parent={_lan.Parent}"));
        Refused(Md("run", "-d", "--net", Net("mv"), "-p", "8080:80", "busybox", "sleep", "300"),
            $"published ports are not supported on macvlan network {Net("mv")}");
        Assert.Empty(Md("ps", "-aq").Stdout.Trim());
        // The address was never taken: the next container gets the first one.
        Ok(Md("run", "-d", "--net", Net("mv"), "--name", "c" + _sfx, "busybox", "sleep", "300"));
        Assert.Equal(_lan.Host(2), AddressOf("c" + _sfx));
    }

    [Fact]
    public void Bad_parents_and_overlaps_are_refused_and_leave_no_network()
    {
        Refused(CreateNetwork(Net("a"), "macvlan"), "network driver macvlan needs a parent interface: -o parent=IF");
        Refused(CreateNetwork(Net("b"), "macvlan", "-o", "parent=mdkz" + _sfx), $"parent interface mdkz{_sfx} of network {Net("b")} does not exist");
        Refused(CreateNetwork(Net("c"), "macvlan", "-o", "parent=lo"), "parent interface lo is the loopback device");
        Refused(CreateNetwork(Net("d"), "macvlan", "-o", $"parent={_lan.Parent}", "-o", "macvlan_mode=l2"), "invalid macvlan_mode 'l2'");
        // A bridge of ours.
        Ok(Md("network", "create", "--subnet", $"10.251.{Random.Shared.Next(1, 255)}.0/24", "-o", "bridge-name=mdkb" + _sfx, Net("br")));
        Refused(CreateNetwork(Net("e"), "macvlan", "-o", "parent=mdkb" + _sfx), $"parent interface mdkb{_sfx} is a bridge of minidocker's");
        // Two networks on one parent with overlapping subnets; and ipvlan beside macvlan on one parent.
        Ok(CreateNetwork(Net("f"), "macvlan", "-o", $"parent={_lan.Parent}"));
        Refused(Md("network", "create", "--driver", "macvlan", "--subnet", _lan.Subnet, "-o", $"parent={_lan.Parent}", Net("g")),
            $"overlaps subnet {_lan.Subnet} of network {Net("f")}");
        Refused(Md("network", "create", "--driver", "ipvlan", "--subnet", "198.18.0.0/24", "-o", $"parent={_lan.Parent}", Net("h")),
            $"parent interface {_lan.Parent} already carries macvlan network {Net("f")}");
        Assert.Equal(new[] { Net("br"), Net("f") }.Order(), _md.Networks().Order());
    }

    [Fact]
    public void A_parent_that_goes_away_takes_the_containers_link_and_rm_still_cleans_up()
    {
        Ok(CreateNetwork(Net("mv"), "macvlan", "-o", $"parent={_lan.Parent}"));
        Ok(Md("run", "-d", "--net", Net("mv"), "--name", "c" + _sfx, "busybox", "sleep", "300"));
        Sh.Run("ip", "link", "del", _lan.Parent); // the kernel deletes every macvlan child with its lower device
        Assert.DoesNotContain("eth0", Md("exec", "c" + _sfx, "ip", "-o", "link").Stdout);
        Ok(Md("rm", "-f", "c" + _sfx));
        Refused(Md("run", "--rm", "--net", Net("mv"), "busybox", "true"), $"parent interface {_lan.Parent} of network {Net("mv")} does not exist");
        Assert.Empty(Md("ps", "-aq").Stdout.Trim());
        Ok(Md("network", "rm", Net("mv")));
        Assert.Empty(_md.Networks());
    }

    [Theory]
    [InlineData("container-link")]
    [InlineData("route")]
    [InlineData("run.network-attached")]
    public void A_failure_at_each_attach_step_leaves_nothing(string step)
    {
        Ok(CreateNetwork(Net("mv"), "macvlan", "-o", $"parent={_lan.Parent}"));
        Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", step);
        Result failed;
        try { failed = Md("run", "-d", "--net", Net("mv"), "--name", "f" + _sfx, "busybox", "sleep", "300"); }
        finally { Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", null); }
        Refused(failed, $"injected failure at step '{step}'");
        Assert.Empty(Md("ps", "-aq").Stdout.Trim());
        Assert.Equal("0", Endpoints(Net("mv")).ToString());
        // Its address was released, and the LAN sees no one at it.
        string ipam = Path.Combine(_md.Root, "networks", "ipam", Net("mv") + ".json");
        if (File.Exists(ipam)) Assert.DoesNotContain(_lan.Host(2), File.ReadAllText(ipam).Split("Allocations")[1]);
        Assert.Empty(_md.ContainerDirs());
        Assert.NotEqual(0, _lan.TryExec("busybox", "ping", "-c", "1", "-W", "1", _lan.Host(2)).Code);
    }

    [Fact]
    public void Connect_and_disconnect_a_running_container_live()
    {
        Ok(CreateNetwork(Net("mv"), "macvlan", "-o", $"parent={_lan.Parent}"));
        Ok(Md("network", "create", "--subnet", $"10.251.{Random.Shared.Next(1, 255)}.0/24", Net("br")));
        Ok(Md("run", "-d", "--net", Net("br"), "--name", "c" + _sfx, "busybox", "sleep", "300"));
        Ok(Md("network", "connect", Net("mv"), "c" + _sfx));
        Assert.Contains("macvlan mode bridge", ContainerLink("c" + _sfx, "eth1"));
        var ping = _lan.TryExec("busybox", "ping", "-c", "1", "-W", "2", _lan.Host(2));
        Assert.True(ping.Code == 0, ping.Out + ping.Err);
        Ok(Md("network", "disconnect", Net("mv"), "c" + _sfx));
        Assert.DoesNotContain("eth1", Md("exec", "c" + _sfx, "ip", "-o", "link").Stdout);
        Assert.NotEqual(0, _lan.TryExec("busybox", "ping", "-c", "1", "-W", "1", _lan.Host(2)).Code);
        Assert.Equal("0", Endpoints(Net("mv")).ToString());
    }

    [Fact]
    public void Reconcile_keeps_a_running_container_and_releases_a_vanished_ones()
    {
        Ok(CreateNetwork(Net("mv"), "macvlan", "-o", $"parent={_lan.Parent}"));
        WebServer("web" + _sfx, Net("mv"));
        string doomed = WebServer("doomed" + _sfx, Net("mv"));
        Assert.Equal(2, Endpoints(Net("mv")));
        // As after a crash of everything: the program and monitor killed, the state directory lost.
        string dir = _md.ContainerDirs().Single(d => Path.GetFileName(d) == doomed);
        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "state.json"))).RootElement;
        foreach (var key in new[] { "monitorPid", "pid" })
            Sh.Try("kill", "-9", state.GetProperty(key).GetInt32().ToString());
        Directory.Delete(dir, recursive: true);

        Ok(Md("network", "reconcile"));
        Assert.Equal(1, Endpoints(Net("mv")));
        string ipam = File.ReadAllText(Path.Combine(_md.Root, "networks", "ipam", Net("mv") + ".json")).Split("Allocations")[1];
        Assert.DoesNotContain(_lan.Host(3), ipam);
        Assert.Contains(_lan.Host(2), ipam);
        // The running one is untouched and still on the LAN.
        Assert.Equal(Md("exec", "web" + _sfx, "hostname").Stdout, FromLan(_lan.Host(2)));
    }
}
