using System.Diagnostics;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Issue 12, resource limits on this host's cgroup v1: each limit proven by exceeding it, `update` on a running
/// container, `stats`, OOMKilled, and every cgroup directory of the container gone after rm -f. A container cannot
/// raise its own limits, and a host user who is not root cannot either.
/// </summary>
public sealed class ResourceLimitTests : IDisposable
{
    private readonly MiniDocker _md = new();

    public void Dispose()
    {
        _md.Dispose();
        var left = MiniDocker.CgroupScopes(_md.Root).Where(Directory.Exists).ToList();
        Assert.True(left.Count == 0, "cgroups left behind: " + string.Join(", ", left));
    }

    private static string Cgroup(string controller, string root, string id) =>
        Path.Combine("/sys/fs/cgroup", controller, "minidocker", StateRoots.ScopeOf(root), id);

    private string CgroupOf(string controller, string id) => Cgroup(controller, _md.Root, id);

    private string RunDetached(params string[] args)
    {
        var r = _md.Run(["run", "-d", "--net", "none", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    private JsonElement Inspect(string id)
    {
        var r = _md.Run("inspect", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Stdout).RootElement[0];
    }

    private static void WaitFor(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(100);
        }
    }

    private static Dictionary<string, long> Keyed(string path) => File.ReadAllLines(path)
        .Select(l => l.Split(' ')).Where(f => f.Length == 2).ToDictionary(f => f[0], f => long.Parse(f[1]));

    [Fact]
    public void A_memory_hog_is_oom_killed_with_137_and_inspect_says_OOMKilled()
    {
        // dd's 64 MiB buffer, filled from /dev/zero, in a 16 MiB cgroup without swap.
        var r = _md.Run("run", "--name", "hog", "--net", "none", "-m", "16m", "--memory-swap", "16m", "busybox",
            "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1");
        Assert.True(r.ExitCode == 137, r.ToString());
        var state = Inspect("hog").GetProperty("State");
        Assert.True(state.GetProperty("OOMKilled").GetBoolean());
        Assert.Equal(137, state.GetProperty("ExitCode").GetInt32());
        var host = Inspect("hog").GetProperty("HostConfig");
        Assert.Equal(16L << 20, host.GetProperty("Memory").GetInt64());
        Assert.Equal(16L << 20, host.GetProperty("MemorySwap").GetInt64());

        // The switch: the same program with room enough ends normally, and OOMKilled is false.
        r = _md.Run("run", "--name", "fits", "--net", "none", "-m", "128m", "busybox",
            "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(Inspect("fits").GetProperty("State").GetProperty("OOMKilled").GetBoolean());
    }

    [Fact]
    public void A_fork_bomb_stops_at_the_pids_limit_and_the_container_is_removed_cleanly()
    {
        string id = RunDetached("--pids-limit", "20", "busybox", "sh", "-c", "b() { b | b & }; b; sleep 600");
        string pids = CgroupOf("pids", id);
        WaitFor(() => Keyed(Path.Combine(pids, "pids.events")).GetValueOrDefault("max") > 0, "the bomb never hit the limit");
        Assert.True(long.Parse(File.ReadAllText(Path.Combine(pids, "pids.current"))) <= 20);
        Assert.Equal("20", File.ReadAllText(Path.Combine(pids, "pids.max")).Trim());
        Assert.Equal(20, Inspect(id).GetProperty("HostConfig").GetProperty("PidsLimit").GetInt64());
        // The host still forks.
        using (var p = Process.Start("true")!) { Assert.True(p.WaitForExit(5000)); }
        var rm = _md.Run("rm", "-f", id);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        foreach (var controller in new[] { "pids", "memory", "cpu", "cpuacct", "cpuset", "devices", "blkio" })
            Assert.False(Directory.Exists(CgroupOf(controller, id)), $"{controller} cgroup left after rm -f");
    }

    [Fact]
    public void Cpuset_cpus_0_is_what_the_container_may_run_on()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "--cpuset-cpus", "0", "busybox", "grep", "Cpus_allowed_list", "/proc/self/status");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"Cpus_allowed_list:\s+0\n", r.Stdout);
        // The single-dash spelling of the mydocker family, and without it every CPU.
        r = _md.Run("run", "--rm", "--net", "none", "-cpuset", "1", "busybox", "grep", "Cpus_allowed_list", "/proc/self/status");
        Assert.Matches(@"Cpus_allowed_list:\s+1\n", r.Stdout);
        r = _md.Run("run", "--rm", "--net", "none", "busybox", "grep", "Cpus_allowed_list", "/proc/self/status");
        Assert.Matches(@"Cpus_allowed_list:\s+0-1\n", r.Stdout);
    }

    [Fact]
    public void Half_a_cpu_throttles_a_busy_loop()
    {
        // Two busy loops: on a loaded host one alone may not get half a CPU within a period, so never hit the quota.
        string id = RunDetached("--cpus", "0.5", "-cpushare", "512", "busybox", "sh", "-c", "while :; do :; done & while :; do :; done");
        string cpu = CgroupOf("cpu", id);
        Assert.Equal("50000", File.ReadAllText(Path.Combine(cpu, "cpu.cfs_quota_us")).Trim());
        Assert.Equal("512", File.ReadAllText(Path.Combine(cpu, "cpu.shares")).Trim());
        WaitFor(() => Keyed(Path.Combine(cpu, "cpu.stat"))["nr_throttled"] > 0, "a busy loop at --cpus 0.5 was never throttled", seconds: 120);
        var host = Inspect(id).GetProperty("HostConfig");
        Assert.Equal(500_000_000, host.GetProperty("NanoCpus").GetInt64());
        Assert.Equal(512, host.GetProperty("CpuShares").GetInt64());
    }

    [Fact]
    public void Ulimit_nofile_is_what_ulimit_n_says_inside()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "--ulimit", "nofile=256:512", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("256\n512\n", r.Stdout);
        r = _md.Run("run", "--name", "u", "--net", "none", "--ulimit", "nproc=100", "--ulimit", "nofile=300", "busybox", "sh", "-c", "ulimit -n");
        Assert.Equal("300\n", r.Stdout);
        // exec gets the container's limits too.
        string id = RunDetached("--ulimit", "nofile=128:256", "busybox", "sleep", "600");
        r = _md.Run("exec", id, "sh", "-c", "ulimit -n; ulimit -Hn");
        Assert.Equal("128\n256\n", r.Stdout);
        var ulimits = Inspect("u").GetProperty("HostConfig").GetProperty("Ulimits");
        Assert.Equal(2, ulimits.GetArrayLength());
        Assert.Contains(ulimits.EnumerateArray(), u => u.GetProperty("Name").GetString() == "nofile" && u.GetProperty("Soft").GetInt64() == 300);
    }

    [Fact]
    public void Update_raises_and_lowers_memory_on_a_running_container()
    {
        string id = RunDetached("--name", "upd", "-m", "32m", "busybox", "sleep", "600");
        string mem = CgroupOf("memory", id);
        long Limit() => long.Parse(File.ReadAllText(Path.Combine(mem, "memory.limit_in_bytes")));
        Assert.Equal(32L << 20, Limit());

        var r = _md.Run("update", "-m", "128m", "--memory-swap", "256m", "--pids-limit", "30", "--cpus", "1", "upd");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("upd\n", r.Stdout);
        Assert.Equal(128L << 20, Limit());
        Assert.Equal(256L << 20, long.Parse(File.ReadAllText(Path.Combine(mem, "memory.memsw.limit_in_bytes"))));
        Assert.Equal("30", File.ReadAllText(Path.Combine(CgroupOf("pids", id), "pids.max")).Trim());
        Assert.Equal("100000", File.ReadAllText(Path.Combine(CgroupOf("cpu", id), "cpu.cfs_quota_us")).Trim());

        r = _md.Run("update", "--memory", "24m", "upd");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(24L << 20, Limit());
        var host = Inspect("upd").GetProperty("HostConfig");
        Assert.Equal(24L << 20, host.GetProperty("Memory").GetInt64());
        Assert.Equal(30, host.GetProperty("PidsLimit").GetInt64());

        // A bad value changes nothing.
        r = _md.Run("update", "-m", "lots", "upd");
        Assert.Equal(125, r.ExitCode);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Equal(24L << 20, Limit());
    }

    [Fact]
    public void Stats_no_stream_shows_the_containers_limit()
    {
        string id = RunDetached("--name", "st", "-m", "64m", "--pids-limit", "10", "busybox", "sleep", "600");
        var r = _md.Run("stats", "--no-stream");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+NET I/O\s+BLOCK I/O\s+PIDS$", lines[0]);
        Assert.Contains(lines, l => l.StartsWith(id[..12]) && l.Contains(" st ") && l.Contains("/ 64MiB") && l.TrimEnd().EndsWith(" 1"));

        r = _md.Run("stats", "--no-stream", "--format", "json", "st");
        var row = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.EndsWith("/ 64MiB", row.GetProperty("MemUsage").GetString());
        Assert.Equal("1", row.GetProperty("PIDs").GetString());
        Assert.Equal("st", row.GetProperty("Name").GetString());

        r = _md.Run("stats", "--no-stream", "--format", "{{.Name}}: {{.MemUsage}}", "st");
        Assert.Matches(@"^st: \S+ / 64MiB\n$", r.Stdout);
    }

    [Theory]
    [InlineData("-m", "12x", "invalid argument \"12x\" for \"-m, --memory\" flag: invalid size: '12x'")]
    [InlineData("-m", "4m", "Minimum memory limit allowed is 6MB")]
    [InlineData("--cpus", "abc", "failed to parse abc as a rational number")]
    [InlineData("--cpus", "64", "Range of CPUs is from 0.01 to")]
    [InlineData("--cpuset-cpus", "63", "Requested CPUs are not available - requested 63")]
    [InlineData("--cpuset-cpus", "x", "Invalid value x for cpuset cpus")]
    [InlineData("--ulimit", "nofile=2:1", "ulimit soft limit must be less than or equal to hard limit")]
    [InlineData("--ulimit", "bogus=1", "invalid ulimit type: bogus")]
    [InlineData("--pids-limit", "ten", "invalid argument \"ten\" for \"--pids-limit\" flag")]
    public void A_bad_value_is_one_line_exit_125_and_nothing_is_left(string flag, string value, string message)
    {
        var r = _md.Run("run", "--net", "none", flag, value, "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Empty(_md.ContainerDirs());
        Assert.DoesNotContain(MiniDocker.CgroupScopes(_md.Root), Directory.Exists);
    }

    [Fact]
    public void Memory_swap_minus_one_is_unlimited_swap()
    {
        string id = RunDetached("-m", "32m", "--memory-swap", "-1", "--memory-reservation", "16m", "busybox", "sleep", "600");
        string mem = CgroupOf("memory", id);
        Assert.True(long.Parse(File.ReadAllText(Path.Combine(mem, "memory.memsw.limit_in_bytes"))) > 1L << 50);
        Assert.Equal(16L << 20, long.Parse(File.ReadAllText(Path.Combine(mem, "memory.soft_limit_in_bytes"))));
        Assert.Equal(-1, Inspect(id).GetProperty("HostConfig").GetProperty("MemorySwap").GetInt64());
    }

    [Fact]
    public void The_container_cannot_raise_its_own_limit_and_privileged_can()
    {
        // Inside: /sys is a read-only sysfs without the host's cgroup mounts, and mounting cgroupfs needs CAP_SYS_ADMIN.
        string script = "ls -A /sys/fs/cgroup 2>/dev/null | wc -l; mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg && " +
                        "echo 268435456 > /tmp/cg/memory.memsw.limit_in_bytes && echo 268435456 > /tmp/cg/memory.limit_in_bytes && " +
                        "cat /tmp/cg/memory.limit_in_bytes; echo rc=$?";
        var r = _md.Run("run", "--rm", "--net", "none", "-m", "32m", "busybox", "sh", "-c", script);
        Assert.StartsWith("0\n", r.Stdout);
        Assert.Contains("rc=1", r.Stdout);
        Assert.DoesNotContain("268435456", r.Stdout);
        r = _md.Run("run", "--rm", "--net", "none", "busybox", "sh", "-c", "mkdir -p /sys/fs/cgroup/memory; echo rc=$?; grep ' /sys ' /proc/self/mountinfo");
        Assert.Contains("rc=1", r.Stdout);
        Assert.Contains(" /sys ro,", r.Stdout);

        // The switch: --privileged (CAP_SYS_ADMIN) mounts its own cgroup (the cgroup namespace's root is the container's
        // cgroup, not the host's) and raises it.
        r = _md.Run("run", "--rm", "--net", "none", "--privileged", "-m", "32m", "busybox", "sh", "-c", script);
        Assert.Contains("268435456", r.Stdout);
        Assert.Contains("rc=0", r.Stdout);
    }

    [Fact]
    public void A_host_user_who_is_not_root_cannot_write_the_containers_cgroup()
    {
        string id = RunDetached("-m", "32m", "--pids-limit", "10", "busybox", "sleep", "600");
        string limit = Path.Combine(CgroupOf("memory", id), "memory.limit_in_bytes");
        string pidsMax = Path.Combine(CgroupOf("pids", id), "pids.max");
        foreach (var file in new[] { limit, pidsMax, Path.Combine(CgroupOf("memory", id), "cgroup.procs") })
        {
            var psi = new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", $"echo 999999999 > {file}"])
            { RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains("Permission denied", err);
        }
        Assert.Equal(32L << 20, long.Parse(File.ReadAllText(limit)));
        Assert.Equal("10", File.ReadAllText(pidsMax).Trim());
    }

    [Fact]
    public void Exec_joins_every_controller_of_the_container()
    {
        string id = RunDetached("-m", "32m", "busybox", "sleep", "600");
        var r = _md.Run("exec", id, "cat", "/proc/self/cgroup");
        Assert.True(r.ExitCode == 0, r.ToString());
        // Inside its cgroup namespace the container's cgroup is "/" in every hierarchy it was put in.
        foreach (var controller in new[] { "memory", "pids", "cpuset", "devices", "blkio" })
            Assert.Matches($@"\d+:[a-z,]*{controller}[a-z,]*:/\n", r.Stdout);
    }

    [Theory]
    [InlineData("cgroup-cpuset")] // the cpus/mems copied from the parent
    [InlineData("cgroup-memory")]
    [InlineData("cgroup-cpu")]
    [InlineData("cgroup-pids")]
    [InlineData("cgroup-join")] // moving the init into the first of the controllers
    public void A_failed_limit_step_stops_the_run_with_one_line_and_leaves_no_cgroup_in_any_controller(string failPoint)
    {
        var psi = new ProcessStartInfo(MiniDocker.Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["MINIDOCKER_FAILPOINT"] = failPoint;
        foreach (var a in new[] { "--root", _md.Root, "run", "--net", "none", "-m", "32m", "--cpus", "0.5", "--cpuset-cpus", "0",
                     "--pids-limit", "10", "busybox", "echo", "ran" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 125, $"{p.ExitCode} {stdout} {stderr}");
        Assert.DoesNotContain("ran", stdout);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cgroup", stderr);
        Assert.Empty(_md.ContainerDirs());
        var left = MiniDocker.CgroupScopes(_md.Root).Where(d => Directory.Exists(d) && Directory.EnumerateDirectories(d).Any()).ToList();
        Assert.True(left.Count == 0, string.Join(", ", left));
    }
}
