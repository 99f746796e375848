using System.Diagnostics;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Issue 10, hole 1: a container must not reach the host's devices. Each container gets its own device cgroup with
/// Docker's default rules: a node made inside (mknod is allowed, as in Docker) cannot be opened unless the rules allow
/// it; `--device` passes one through. The cgroup goes with the container, on every path a container ends by.
/// </summary>
public class DeviceTests : IDisposable
{
    private readonly MiniDocker _md;
    private readonly string _marker = "MDKDEV" + Guid.NewGuid().ToString("N")[..10];
    private readonly bool _unified;
    /// <summary>Where this hierarchy is mounted, and how /proc/self/cgroup names it.</summary>
    private readonly string _mount, _cgroupLine;

    /// <summary>The v1 devices controller (this host's default).</summary>
    public DeviceTests() : this(unified: false) { }

    protected DeviceTests(bool unified)
    {
        _unified = unified;
        _mount = unified ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup/devices";
        _cgroupLine = unified ? "^0::" : "devices";
        _md = new MiniDocker(environment: unified ? new Dictionary<string, string> { ["MINIDOCKER_CGROUP_HIERARCHY"] = "unified" } : null);
    }

    private string ScopeDirectory => Path.Combine(_mount, "minidocker", StateRoots.ScopeOf(_md.Root));
    private string CgroupOf(string id) => Path.Combine(ScopeDirectory, id);

    public void Dispose()
    {
        _md.Dispose();
        // Nothing of this root is left in the devices hierarchy (other roots' tests may have their own scopes there).
        Assert.False(Directory.Exists(ScopeDirectory), $"{ScopeDirectory} was left behind");
    }

    private static string KernelLog()
    {
        var psi = new ProcessStartInfo("dmesg") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    private string RunDetached(params string[] args)
    {
        var r = _md.Run(["run", "-d", "--net", "none", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    private JsonElement State(string id) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(_md.Root, "containers", id, "state.json"))).RootElement;

    [Fact]
    public void A_kmsg_node_made_in_the_container_cannot_be_written_and_device_passes_it_through()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "busybox", "sh", "-c",
            $"mknod /tmp/k c 1 11 && echo made; echo '<4>{_marker}' > /tmp/k; echo rc=$?");
        Assert.Contains("made", r.Stdout); // mknod itself is allowed, as in Docker
        Assert.Contains("rc=1", r.Stdout);
        Assert.Contains("Operation not permitted", r.Stderr);
        Assert.DoesNotContain(_marker, KernelLog());

        // The switch: --device allows exactly that node, and the line reaches the host's kernel log.
        r = _md.Run("run", "--rm", "--net", "none", "--device", "/dev/kmsg:/tmp/k", "busybox", "sh", "-c",
            $"echo '<4>{_marker}' > /tmp/k; echo rc=$?");
        Assert.Contains("rc=0", r.Stdout);
        Assert.Contains(_marker, KernelLog());

        // --privileged: every device, as Docker.
        r = _md.Run("run", "--rm", "--net", "none", "--privileged", "busybox", "sh", "-c", "mknod /tmp/k c 1 11 && (: < /tmp/k) && echo opened");
        Assert.Contains("opened", r.Stdout);
    }

    [Fact]
    public void A_tty1_node_made_in_the_container_cannot_be_opened()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "busybox", "sh", "-c",
            "mknod /tmp/t c 4 1 && echo made; (: < /tmp/t); echo rc=$?; mknod /tmp/b b 8 0; (: < /tmp/b); echo block=$?");
        Assert.Contains("made", r.Stdout);
        Assert.Contains("rc=1", r.Stdout);
        Assert.Contains("block=1", r.Stdout);
        Assert.Contains("Operation not permitted", r.Stderr);

        r = _md.Run("run", "--rm", "--net", "none", "--device", "/dev/tty1:/tmp/t:r", "busybox", "sh", "-c", "(: < /tmp/t); echo rc=$?");
        Assert.Contains("rc=0", r.Stdout);
    }

    [Fact]
    public void Docker_default_devices_still_work()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "busybox", "sh", "-c",
            "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c && " +
            "head -c 4 /dev/random | wc -c && : < /dev/ptmx && echo ptmx-ok; echo x > /dev/full; echo full=$?");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["4", "4", "4", "ptmx-ok", "full=1"], r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));
        Assert.Contains("No space left on device", r.Stderr); // /dev/full opened, its write refused as it should be
    }

    [Fact]
    public void Device_makes_the_node_with_the_hosts_numbers_and_refuses_what_is_not_a_device()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "--device", "/dev/zero:/dev/myzero", "busybox", "sh", "-c",
            "stat -c '%F %t:%T %a' /dev/myzero; head -c 5 /dev/myzero | wc -c");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["character special file 1:5 666", "5"], r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));

        foreach (var (spec, error) in new[] { ("/etc/passwd", "not a device node"), ("/dev/zero:/dev/z:rx", "invalid device mode: rx"),
                     ("/nonexistent", "no such file or directory"), ("/dev/zero:relative", "bad format for path: relative") })
        {
            r = _md.Run("run", "--rm", "--net", "none", "--device", spec, "busybox", "true");
            Assert.True(r.ExitCode == 125, r.ToString());
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(error, r.Stderr);
        }
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Exec_runs_inside_the_containers_device_cgroup()
    {
        string id = RunDetached("busybox", "sleep", "100");
        Assert.True(Directory.Exists(CgroupOf(id)));
        var r = _md.Run("exec", id, "sh", "-c", $"grep '{_cgroupLine}' /proc/self/cgroup; mknod /tmp/k c 1 11; echo '<4>{_marker}' > /tmp/k; echo rc=$?");
        // The container's cgroup namespace is rooted at its own cgroup: "/" is exactly it (another cgroup would read
        // as a path with "..").
        Assert.Matches(_unified ? @"0::/\n" : @"\d+:devices:/\n", r.Stdout);
        Assert.Contains("rc=1", r.Stdout);
        Assert.DoesNotContain(_marker, KernelLog());
    }

    [Fact]
    public void The_cgroup_is_removed_by_run_rm_by_rm_and_when_the_container_ends()
    {
        // run --rm: the cgroup existed while it ran, and is gone once run returns.
        var r = _md.Run("run", "--rm", "--net", "none", "busybox", "sh", "-c", $"grep '{_cgroupLine}' /proc/self/cgroup");
        Assert.Equal("/", r.Stdout.Trim().Split(':', 3)[2]); // its own cgroup, the root of its cgroup namespace
        Assert.False(Directory.Exists(ScopeDirectory) && Directory.EnumerateDirectories(ScopeDirectory).Any());

        string running = RunDetached("busybox", "sleep", "100");
        Assert.True(Directory.Exists(CgroupOf(running)));
        if (!_unified)
        {
            Assert.Contains("c 1:3 rwm", File.ReadAllText(Path.Combine(CgroupOf(running), "devices.list")));
            Assert.DoesNotContain("a *:* rwm", File.ReadAllText(Path.Combine(CgroupOf(running), "devices.list")));
        }
        Assert.Equal(0, _md.Run("rm", "-f", running).ExitCode);
        Assert.False(Directory.Exists(CgroupOf(running)));

        string ended = RunDetached("busybox", "true");
        Assert.Equal(0, _md.Run("wait", ended).ExitCode);
        Assert.False(Directory.Exists(CgroupOf(ended)));
    }

    [Fact]
    public void A_crashed_containers_cgroup_is_removed_by_system_prune()
    {
        string id = RunDetached("busybox", "sleep", "100");
        var state = State(id);
        // Monitor first, so nobody records the end: a crash as kill -9 or a reboot leaves it.
        Process.Start("kill", ["-9", state.GetProperty("monitorPid").GetInt32().ToString()])!.WaitForExit();
        Process.Start("kill", ["-9", state.GetProperty("pid").GetInt32().ToString()])!.WaitForExit();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (File.ReadAllText(Path.Combine(CgroupOf(id), "cgroup.procs")).Trim().Length > 0 && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.True(Directory.Exists(CgroupOf(id)));
        var r = _md.Run("system", "prune", "-f");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(Directory.Exists(CgroupOf(id)));
    }

    [Theory]
    [InlineData("cgroup")]        // mkdir of the container's cgroup
    [InlineData("cgroup-devices")] // a device rule
    [InlineData("cgroup-join")]    // moving the init in
    public void A_failed_cgroup_step_stops_the_container_with_one_line_and_leaves_nothing(string failPoint)
    {
        var psi = new ProcessStartInfo(MiniDocker.Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["MINIDOCKER_FAILPOINT"] = failPoint;
        if (_unified) psi.Environment["MINIDOCKER_CGROUP_HIERARCHY"] = "unified";
        foreach (var a in new[] { "--root", _md.Root, "run", "--net", "none", "busybox", "echo", "ran" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 125, $"{p.ExitCode} {stdout} {stderr}");
        Assert.DoesNotContain("ran", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("minidocker: ", lines[0]);
        Assert.Contains("cgroup", lines[0]);
        Assert.Empty(_md.ContainerDirs());
        Assert.False(Directory.Exists(ScopeDirectory) && Directory.EnumerateDirectories(ScopeDirectory).Any());
    }
}

/// <summary>
/// The same attacks against cgroup v2's device rules: a BPF program attached to the container's cgroup in the unified
/// hierarchy, which a v2 host (the lab's Vagrant box) uses. This hybrid host mounts that hierarchy at
/// /sys/fs/cgroup/unified, where BPF device programs work as on a v2 host; MINIDOCKER_CGROUP_HIERARCHY=unified makes
/// minidocker use it. The root devices cgroup of v1 allows everything, so only the program stands in the way here.
/// </summary>
public sealed class UnifiedDeviceTests : DeviceTests
{
    public UnifiedDeviceTests() : base(unified: true) { }
}
