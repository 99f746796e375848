using System.Net;
using System.Net.Sockets;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>
/// A process inside a default container (no extra capabilities) tries to reach or change the host and another
/// container, as an attacker would; each attempt is refused and the host is as it was. (The matching switches,
/// --privileged and --cap-add, are proven to allow these in the security issue's tests.)
/// </summary>
public sealed class EscapeTests : IDisposable
{
    private readonly Rig _rig = new();
    private readonly string _net;
    private readonly string _gateway;

    public EscapeTests() => (_net, _, _gateway) = _rig.Network();

    public void Dispose() => _rig.Dispose();

    private Result Inside(string script) => _rig.Run("run", "--rm", "--net", _net, "busybox", "sh", "-c", script);

    /// <summary>The attack's command fails inside (non-zero status); the script prints "refused" then.</summary>
    private void AssertRefused(string what, string attack)
    {
        var r = Inside($"if {attack}; then echo allowed; else echo refused; fi");
        Report.Count("escapes: attempts");
        Assert.True(r.Stdout.Trim().EndsWith("refused"), $"{what}: {r}");
    }

    [Fact]
    public void No_host_process_is_visible()
    {
        var r = Inside("ls /proc | grep -c '^[0-9]'; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '");
        Report.Count("escapes: attempts");
        var lines = r.Stdout.Split('\n');
        Assert.True(int.Parse(lines[0]) <= 3, r.ToString()); // sh, ls/cat, grep: its own only
        Assert.DoesNotContain("dotnet", r.Stdout);
        Assert.DoesNotContain("sshd", r.Stdout);
    }

    [Fact]
    public void No_host_file_is_reachable()
    {
        string secret = $"/tmp/mdk-secret-{Guid.NewGuid():N}";
        File.WriteAllText(secret, "host secret");
        try
        {
            AssertRefused("the file by its path", $"cat {secret}");
            AssertRefused("through PID 1's root", $"cat /proc/1/root{secret}");
            AssertRefused("through a mount of the host's disk", "mkdir -p /mnt/h && mount /dev/sda1 /mnt/h");
            AssertRefused("through a new device node", "mknod /tmp/disk b 8 0 && head -c1 /tmp/disk");
            AssertRefused("through the host's /dev/mem", "mknod /tmp/mem c 1 1 && head -c1 /tmp/mem");
        }
        finally { File.Delete(secret); }
    }

    [Fact]
    public void The_hosts_network_mounts_hostname_clock_and_sysctls_cannot_be_changed()
    {
        string hostname = File.ReadAllText("/proc/sys/kernel/hostname");
        string forward = File.ReadAllText("/proc/sys/net/ipv4/ip_forward");
        string links = string.Join(",", Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName).Order());
        int mounts = File.ReadAllLines("/proc/self/mountinfo").Length;

        AssertRefused("add a link", "ip link add mdkevil type dummy");
        AssertRefused("take its eth0 down", "ip link set eth0 down");
        AssertRefused("change its address", "ip addr add 10.255.255.1/32 dev eth0");
        AssertRefused("mount a tmpfs", "mount -t tmpfs none /mnt");
        AssertRefused("remount / read-write elsewhere", "mount -o remount,rw /proc/sys");
        AssertRefused("set the hostname", "hostname evil");
        // busybox date exits 0 even when settimeofday is refused: look at the clock instead
        AssertRefused("set the clock", "date -s '2000-01-01 00:00:00' >/dev/null 2>&1; [ \"$(date +%Y)\" = 2000 ]");
        AssertRefused("write a sysctl", "echo 0 > /proc/sys/net/ipv4/ip_forward");
        AssertRefused("write a kernel sysctl", "echo evil > /proc/sys/kernel/hostname");
        AssertRefused("load a module", "insmod /nonexistent.ko || modprobe dummy");
        AssertRefused("trigger sysrq", "echo h > /proc/sysrq-trigger");

        Assert.Equal(hostname, File.ReadAllText("/proc/sys/kernel/hostname"));
        Assert.Equal(forward, File.ReadAllText("/proc/sys/net/ipv4/ip_forward"));
        Assert.DoesNotContain("mdkevil", Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName));
        Assert.True(Math.Abs(DateTimeOffset.UtcNow.Year - 2026) < 5);
        _ = links;
        _ = mounts;
    }

    [Fact]
    public void A_service_the_host_binds_to_loopback_is_not_reachable()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        int accepted = 0;
        var acceptor = new Thread(() =>
        {
            try { while (true) { using var c = listener.AcceptTcpClient(); Interlocked.Increment(ref accepted); } }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
        });
        acceptor.Start();
        try
        {
            AssertRefused("through the gateway", $"nc -w 2 {_gateway} {port} </dev/null");
            AssertRefused("at 127.0.0.1 (its own loopback)", $"nc -w 2 127.0.0.1 {port} </dev/null");
            AssertRefused("through a route to 127.0.0.1 via the gateway", $"ip route add 127.0.0.0/8 via {_gateway} && nc -w 2 127.0.0.1 {port} </dev/null");
            Assert.Equal(0, accepted);
        }
        finally
        {
            listener.Stop();
            acceptor.Join();
        }
    }

    [Fact]
    public void Another_containers_processes_cannot_be_signalled_or_traced()
    {
        string victim = _rig.Ok("run", "-d", "--net", _net, "busybox", "sleep", "600");
        int hostPid = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_rig.Root, "containers", victim, "state.json")))
            .RootElement.GetProperty("pid").GetInt32();
        // Its host pid, every pid a PID namespace could give it, and everything kill -1 reaches.
        AssertRefused("kill by host pid", $"kill -9 {hostPid}");
        AssertRefused("kill every process", "kill -9 -1 2>/dev/null; sleep 1; false");
        AssertRefused("see its processes", "cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -q 'sleep[ ]600'");
        AssertRefused("trace it through /proc", $"cat /proc/{hostPid}/environ");
        AssertRefused("enter its namespaces", $"nsenter -t {hostPid} -m true");
        using var inspect = System.Text.Json.JsonDocument.Parse(_rig.Ok("inspect", victim));
        Assert.True(inspect.RootElement[0].GetProperty("State").GetProperty("Running").GetBoolean());
        _rig.CleanAndAssertNoLeaks();
    }
}
