using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>The host's loopback services against containers, through the iptables backend.</summary>
public sealed class IptablesLoopbackTests() : LoopbackTests("iptables");

/// <summary>The same through the nftables backend.</summary>
public sealed class NftablesLoopbackTests() : LoopbackTests("nftables");

/// <summary>
/// CVE-2020-8558 class: bridges have route_localnet=1 (so that `-p 127.0.0.1:...` works without a proxy), and a
/// container with CAP_NET_RAW (a default capability) can hand the gateway's MAC a packet for 127.0.0.1, which the host
/// then delivers to services bound to its loopback only. The attack is done for real with loopback-probe.c against
/// listeners on the host's 127.0.0.1, once per firewall backend.
/// </summary>
public abstract class LoopbackTests(string firewall) : IDisposable
{
    private readonly MiniDocker _md = new(firewall: firewall);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(1, 255);
    private string Net => "lonet" + _suffix;
    private string Subnet => $"10.236.{_octet}.0/24";

    public void Dispose()
    {
        _md.Dispose();
        GC.SuppressFinalize(this);
    }

    private Result Md(params string[] args) => _md.Run(args);

    private string CreateNetwork()
    {
        var r = Md("network", "create", "--subnet", Subnet, Net);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(Md("network", "inspect", Net).Stdout).RootElement[0].GetProperty("Bridge").GetString()!;
    }

    /// <summary>busybox plus loopback-probe.</summary>
    private void ImportProbeImage() => TestImages.BusyboxWith(_md, "probebox", "loopback-probe.c");

    /// <summary>Our rules that mention the bridge, in the raw stage of either backend (iptables' raw table, or the
    /// whole nft table of ours): the drop of its traffic to 127.0.0.0/8.</summary>
    private static string[] LoopbackDrops(string bridge) =>
        (Sh.Try("iptables-save", "-t", "raw").Out + Sh.Try("nft", "list", "table", "ip", "minidocker").Out)
            .Split('\n').Where(l => l.Contains(bridge) && l.Contains("127.0.0.0/8")).Select(l => l.Trim()).ToArray();

    /// <summary>What someone flushing rules, or the code before the fix, leaves: no drop for this bridge.</summary>
    private void DeleteLoopbackDrop(string bridge)
    {
        if (firewall == "iptables")
        {
            string rule = Sh.Run("iptables-save", "-t", "raw").Split('\n').Single(l => l.Contains($"-i {bridge} ") && l.Contains("127.0.0.0/8"));
            Sh.Run("iptables", ["-t", "raw", "-D", .. rule[3..].Replace("\"", "").Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
        }
        else
        {
            string rule = Sh.Run("nft", "-a", "list", "chain", "ip", "minidocker", "raw-prerouting").Split('\n')
                .Single(l => l.Contains($"\"{bridge}\"") && l.Contains("127.0.0.0/8"));
            Sh.Run("nft", "delete", "rule", "ip", "minidocker", "raw-prerouting", "handle", rule.Split("# handle ")[1].Trim());
        }
        Assert.Empty(LoopbackDrops(bridge));
    }

    /// <summary>
    /// The attack from a fresh container: a TCP handshake and a datagram from its own address, and a datagram with a
    /// forged loopback source (127.0.0.2: kube-proxy's rule exempts 127.0.0.0/8 sources, and UDP needs no answer).
    /// Returns what the probe printed and what reached the host's 127.0.0.1 listeners.
    /// </summary>
    private (string Probe, HostLoopbackListener.Received Host) Attack(HostLoopbackListener host)
    {
        int port = host.Port;
        var r = Md("run", "--rm", "--net", Net, "probebox", "sh", "-c",
            $"loopback-probe tcp {port}; loopback-probe udp {port} && loopback-probe udp {port} 127.0.0.2");
        // The probe exits 1 when no SYN-ACK came, and sh passes on the last command's status: both sends must work.
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, r.Stdout.Split('\n').Count(l => l == "udp sent"));
        // Everything was sent and delivered (or dropped) before run returned; give the host's sockets a moment.
        return (r.Stdout, host.Collect(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_container_with_NET_RAW_cannot_reach_services_on_the_hosts_loopback()
    {
        ImportProbeImage();
        string bridge = CreateNetwork();
        Assert.Single(LoopbackDrops(bridge));
        Assert.Contains($"minidocker:net:{StateRoots.ScopeOf(_md.Root)}:{Net}", LoopbackDrops(bridge)[0]);
        using var host = new HostLoopbackListener();

        var (probe, received) = Attack(host);
        Assert.Contains("no syn-ack", probe.Split('\n'));
        Assert.Null(received.TcpData);
        Assert.Empty(received.Datagrams);

        // Without the drop (the code before the fix) the same attack gets through: a full TCP connection with data,
        // and both datagrams. This is what makes the refusal above mean something on this machine.
        DeleteLoopbackDrop(bridge);
        (probe, received) = Attack(host);
        Assert.Contains("syn-ack", probe.Split('\n'));
        Assert.Equal("probe", received.TcpData);
        Assert.Contains(received.Datagrams, d => d.Data == "probe" && d.From.StartsWith($"10.236.{_octet}.", StringComparison.Ordinal));
        Assert.Contains(received.Datagrams, d => d.Data == "probe" && d.From == "127.0.0.2");

        // `network reconcile` puts the drop back, and the attack is refused again.
        var reconcile = Md("network", "reconcile");
        Assert.True(reconcile.ExitCode == 0, reconcile.ToString());
        Assert.Single(LoopbackDrops(bridge));
        (probe, received) = Attack(host);
        Assert.Contains("no syn-ack", probe.Split('\n'));
        Assert.Null(received.TcpData);
        Assert.Empty(received.Datagrams);

        // The drop goes with its network.
        Assert.Equal(0, Md("network", "rm", Net).ExitCode);
        Assert.Empty(LoopbackDrops(bridge));
    }

    [Fact]
    public void A_port_published_on_127_0_0_1_still_answers_the_host()
    {
        string bridge = CreateNetwork();
        int port = HostPorts.Free();
        var r = Md("run", "-d", "--name", "web", "--net", Net, "-p", $"127.0.0.1:{port}:80", "busybox", "sh", "-c",
            "mkdir -p /www && echo loopback-ok > /www/index.html && exec httpd -f -p 80 -h /www");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Single(LoopbackDrops(bridge));

        Assert.Equal("loopback-ok\n", HostPorts.Fetch($"http://127.0.0.1:{port}/"));

        Assert.Equal(0, Md("rm", "-f", "web").ExitCode);
        Assert.Equal(0, Md("network", "rm", Net).ExitCode);
        Assert.Empty(LoopbackDrops(bridge));
    }
}

/// <summary>
/// A port published on 127.0.0.1 only, against a host on the LAN: it hands the host's MAC a SYN for 127.0.0.1:PORT.
/// The DNAT of PREROUTING used to rewrite it to the container before the routing's martian check could drop it, so the
/// "loopback-only" port answered the LAN (Docker 28 closed the same hole). The LAN host is a namespace joined to the
/// host by a veth; the probe is the same raw-packet prober, run there.
/// </summary>
public abstract class LanToLoopbackTests(string firewall) : IDisposable
{
    private readonly MiniDocker _md = new(firewall: firewall);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly WanNamespace _lan = new();
    private string Net => "lannet" + _suffix;

    public void Dispose()
    {
        _md.Dispose();
        _lan.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public void A_port_published_on_127_0_0_1_does_not_answer_a_host_on_the_LAN()
    {
        var r = _md.Run("network", "create", "--subnet", $"10.237.{Random.Shared.Next(1, 255)}.0/24", Net);
        Assert.True(r.ExitCode == 0, r.ToString());
        int loopbackPort = HostPorts.Free(), allPort = HostPorts.Free();
        r = _md.Run("run", "-d", "--net", Net, "-p", $"127.0.0.1:{loopbackPort}:80", "-p", $"{allPort}:80", "busybox", "sh", "-c",
            "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("ok\n", HostPorts.Fetch($"http://127.0.0.1:{loopbackPort}/")); // the host itself still reaches it

        string probe = Path.Combine(_md.Root, "loopback-probe");
        Sh.Run("gcc", "-static", "-O2", "-o", probe, Path.Combine(AppContext.BaseDirectory, "loopback-probe.c"));
        (int Code, string Out, string Err) Probe(int port) =>
            Sh.Try("ip", "netns", "exec", _lan.Name, "env", "PROBE_IF=wan0", probe, "tcp", port.ToString());

        // The control: a port published on every address answers the LAN host at the host's address on its link.
        Assert.Equal("ok\n", _lan.Exec("busybox", "wget", "-qO-", $"http://{_lan.HostAddress}:{allPort}/"));
        var attack = Probe(loopbackPort);
        Assert.True(attack.Code == 1, $"{attack.Code} {attack.Out} {attack.Err}");
        Assert.Contains("no syn-ack", attack.Out.Split('\n'));
    }
}

public sealed class IptablesLanToLoopbackTests() : LanToLoopbackTests("iptables");

public sealed class NftablesLanToLoopbackTests() : LanToLoopbackTests("nftables");

/// <summary>A TCP listener and a UDP socket on the host's 127.0.0.1, on the same free port: the "loopback-only
/// service" a container must not reach.</summary>
public sealed class HostLoopbackListener : IDisposable
{
    public sealed record Received(string? TcpData, IReadOnlyList<(string From, string Data)> Datagrams);

    private readonly TcpListener _tcp;
    private readonly UdpClient _udp;

    public int Port { get; }

    public HostLoopbackListener()
    {
        for (int attempt = 0; ; attempt++)
        {
            var tcp = new TcpListener(IPAddress.Loopback, 0);
            tcp.Start();
            int port = ((IPEndPoint)tcp.LocalEndpoint).Port;
            try
            {
                _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
                _tcp = tcp;
                Port = port;
                return;
            }
            catch (SocketException) when (attempt < 20) { tcp.Stop(); } // that UDP port is taken: another one
        }
    }

    /// <summary>What arrived within <paramref name="wait"/>: the data of an accepted connection, and datagrams.</summary>
    public Received Collect(TimeSpan wait)
    {
        string? tcpData = null;
        var datagrams = new List<(string, string)>();
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            if (_tcp.Pending())
            {
                using TcpClient connection = _tcp.AcceptTcpClient();
                connection.ReceiveTimeout = 2000;
                var buffer = new byte[64];
                int n;
                try { n = connection.GetStream().Read(buffer); }
                catch (IOException) { n = 0; }
                tcpData = Encoding.ASCII.GetString(buffer, 0, n);
            }
            while (_udp.Available > 0)
            {
                var from = new IPEndPoint(IPAddress.Any, 0);
                byte[] data = _udp.Receive(ref from);
                datagrams.Add((from.Address.ToString(), Encoding.ASCII.GetString(data)));
            }
            Thread.Sleep(20);
        }
        return new Received(tcpData, datagrams);
    }

    public void Dispose()
    {
        _tcp.Stop();
        _udp.Dispose();
    }
}
