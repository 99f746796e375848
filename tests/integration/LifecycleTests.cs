using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// exec, stop, kill, start, restart, wait, rename, inspect, restart policies and crash recovery, as a user sees them,
/// including the races a user can cause (stop while the program ends by itself, rm -f while it starts, two stops).
/// Containers use --network none: these tests are about the runtime, the network tests cover attachments.
/// </summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];
    public void Dispose() => _md.Dispose();

    private string Name(string what) => $"lc-{what}-{_tag}";

    /// <summary>`run -d --network none ARGS`: the id, or the test fails with what the user saw.</summary>
    private string RunDetached(params string[] args)
    {
        var r = _md.Run(["run", "-d", "--network", "none", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    private JsonElement Inspect(string container)
    {
        var r = _md.Run("inspect", container);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement[0].Clone();
    }

    private static void Eventually(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {seconds}s: {what}");
            Thread.Sleep(50);
        }
    }

    private static Result Finish(Process p, int seconds = 60)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(seconds)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("minidocker did not finish");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Host pids of `sleep MARKER` (a duration unique to the test).</summary>
    private static List<int> ProcessesWith(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (args is ["sleep", var duration, ..] && duration == marker) found.Add(pid);
            }
            catch (IOException) { }
        }
        return found;
    }

    private static string UniqueSleep() => Random.Shared.Next(50_000, 90_000).ToString();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Exec_runs_in_all_the_containers_namespaces_and_returns_the_exit_status()
    {
        RunDetached("--name", Name("ex"), "-h", "box", "busybox", "sleep", "600");
        Assert.Equal("box\n", _md.Run("exec", Name("ex"), "hostname").Stdout);

        var ps = Lines(_md.Run("exec", Name("ex"), "ps", "-o", "pid,comm").Stdout)
            .Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToList();
        Assert.Equal("1 sleep", ps[1]);

        int pid = Inspect(Name("ex")).GetProperty("State").GetProperty("Pid").GetInt32();
        var inside = _md.Run("exec", Name("ex"), "sh", "-c", "for n in mnt uts ipc pid net cgroup; do readlink /proc/self/ns/$n; done");
        var container = new[] { "mnt", "uts", "ipc", "pid", "net", "cgroup" }.Select(n => new FileInfo($"/proc/{pid}/ns/{n}").LinkTarget);
        Assert.Equal(container, Lines(inside.Stdout));

        Assert.Equal(7, _md.Run("exec", Name("ex"), "sh", "-c", "exit 7").ExitCode);
        Assert.Equal("CapBnd:\t00000000a80425fb\n", _md.Run("exec", Name("ex"), "grep", "CapBnd", "/proc/self/status").Stdout);
        Assert.Equal("0\n1\n2\n3\n", _md.Run("exec", Name("ex"), "ls", "/proc/self/fd").Stdout);
    }

    [Fact]
    public void Exec_reports_not_found_127_and_not_executable_126_like_docker()
    {
        RunDetached("--name", Name("exerr"), "busybox", "sleep", "600");
        var missing = _md.Run("exec", Name("exerr"), "nosuchcommand");
        Assert.Equal(127, missing.ExitCode);
        Assert.Equal("minidocker: exec: \"nosuchcommand\": executable file not found in $PATH\n", missing.Stderr);
        var notExecutable = _md.Run("exec", Name("exerr"), "/etc/passwd");
        Assert.Equal(126, notExecutable.ExitCode);
        Assert.Contains("permission denied", notExecutable.Stderr);
        var badUser = _md.Run("exec", "-u", "nosuchuser", Name("exerr"), "true");
        Assert.Equal(126, badUser.ExitCode);
        Assert.Contains("unable to find user nosuchuser", badUser.Stderr);
    }

    [Fact]
    public void Exec_takes_environment_working_directory_and_user()
    {
        RunDetached("--name", Name("exopt"), "-e", "FROM_RUN=1", "busybox", "sleep", "600");
        var r = _md.Run("exec", "-e", "A=b c", "-w", "/tmp", "-u", "nobody", Name("exopt"),
            "sh", "-c", "echo \"$A\"; echo $FROM_RUN; pwd; id -u; id -g");
        Assert.Equal("b c\n1\n/tmp\n65534\n65534\n", r.Stdout);
        Assert.Equal("1234:5\n", _md.Run("exec", "-u", "1234:5", Name("exopt"), "sh", "-c", "echo $(id -u):$(id -g)").Stdout);
    }

    [Fact]
    public void Exec_with_t_gets_a_pty_of_the_container_and_with_i_gets_stdin()
    {
        RunDetached("--name", Name("extty"), "busybox", "sleep", "600");
        Assert.Equal("/dev/pts/0\r\nTERM=xterm\r\n", _md.Run("exec", "-t", Name("extty"), "sh", "-c", "tty; echo TERM=$TERM").Stdout);
        Assert.Equal("hi\n", _md.RunWith("hi\n", TimeSpan.FromSeconds(30), "exec", "-i", Name("extty"), "cat").Stdout);
        Assert.Equal("", _md.RunWith("hi\n", TimeSpan.FromSeconds(30), "exec", Name("extty"), "cat").Stdout);
    }

    [Fact]
    public void Exec_into_a_stopped_container_fails_like_docker()
    {
        _md.Run("run", "--network", "none", "--name", Name("done"), "busybox", "true");
        var r = _md.Run("exec", Name("done"), "true");
        Assert.Equal(1, r.ExitCode);
        Assert.Matches("^minidocker: container [0-9a-f]{64} is not running\n$", r.Stderr);
        Assert.Equal(1, _md.Run("exec", "nosuchcontainer", "true").ExitCode);
    }

    [Fact]
    public void Stop_sends_TERM_then_KILL_after_the_grace_period()
    {
        RunDetached("--name", Name("trap"), "busybox", "sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done");
        var r = _md.Run("stop", Name("trap"));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(Name("trap") + "\n", r.Stdout);
        Assert.Matches(new Regex($@"Exited \(3\) .* ago\s+{Name("trap")}"), _md.Run("ps", "-a").Stdout);

        // PID 1 without a TERM handler ignores it, as in Docker: only the KILL ends it.
        RunDetached("--name", Name("deaf"), "busybox", "sleep", "600");
        Assert.Equal(0, _md.Run("stop", "-t", "1", Name("deaf")).ExitCode);
        Assert.Equal(137, Inspect(Name("deaf")).GetProperty("State").GetProperty("ExitCode").GetInt32());
        Assert.DoesNotContain(Name("deaf"), _md.Run("ps").Stdout);

        // Stopping a stopped container is not an error; an unknown one is.
        Assert.Equal(0, _md.Run("stop", Name("deaf")).ExitCode);
        var unknown = _md.Run("stop", "nosuchcontainer");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no such container", unknown.Stderr);
    }

    [Fact]
    public void Stop_while_the_program_exits_by_itself_records_the_programs_exit()
    {
        for (int i = 0; i < 5; i++)
        {
            string name = Name($"race{i}");
            RunDetached("--name", name, "busybox", "sh", "-c", $"sleep 0.0{i}");
            var r = _md.Run("stop", "-t", "5", name);
            Assert.True(r.ExitCode == 0, r.ToString());
            var state = Inspect(name).GetProperty("State");
            Assert.Equal("exited", state.GetProperty("Status").GetString());
            Assert.Equal(0, state.GetProperty("ExitCode").GetInt32()); // PID 1 sh ignores TERM, so it always ends by itself
        }
    }

    [Fact]
    public void Two_stops_at_once_both_succeed()
    {
        RunDetached("--name", Name("twice"), "busybox", "sleep", "600");
        using var first = _md.Start(false, "stop", "-t", "1", Name("twice"));
        using var second = _md.Start(false, "stop", "-t", "1", Name("twice"));
        var a = Finish(first);
        var b = Finish(second);
        Assert.True(a.ExitCode == 0 && b.ExitCode == 0, $"{a}\n{b}");
        Assert.Equal(Name("twice") + "\n", a.Stdout);
        Assert.Equal(Name("twice") + "\n", b.Stdout);
        var state = Inspect(Name("twice")).GetProperty("State");
        Assert.Equal("exited", state.GetProperty("Status").GetString());
        Assert.Equal(137, state.GetProperty("ExitCode").GetInt32());
    }

    [Fact]
    public void Kill_sends_the_signal_by_name_or_number_and_refuses_a_stopped_container()
    {
        RunDetached("--name", Name("kill"), "busybox", "sh", "-c", "trap 'echo got USR1' USR1; echo ready; while true; do sleep 0.1; done");
        Eventually(() => _md.Run("logs", Name("kill")).Stdout.Contains("ready"), "the program is ready");
        Assert.Equal(0, _md.Run("kill", "-s", "SIGUSR1", Name("kill")).ExitCode);
        Eventually(() => _md.Run("logs", Name("kill")).Stdout.Contains("got USR1"), "the program got USR1");
        Assert.Equal(0, _md.Run("kill", "-s", "usr1", Name("kill")).ExitCode);
        Eventually(() => Regex.Matches(_md.Run("logs", Name("kill")).Stdout, "got USR1").Count == 2, "the program got USR1 twice");

        var bad = _md.Run("kill", "-s", "NOPE", Name("kill"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("invalid signal: NOPE", bad.Stderr);

        Assert.Equal(Name("kill") + "\n", _md.Run("kill", Name("kill")).Stdout);
        Assert.Equal("137\n", _md.Run("wait", Name("kill")).Stdout);
        var again = _md.Run("kill", "-s", "9", Name("kill"));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("is not running", again.Stderr);
    }

    [Fact]
    public void Start_runs_a_stopped_container_again_on_its_own_layer()
    {
        string name = Name("layer");
        var first = _md.Run("run", "--network", "none", "--name", name, "busybox", "sh", "-c", "echo x >> /count; wc -l < /count");
        Assert.Equal("1\n", first.Stdout);
        var attached = _md.Run("start", "-a", name);
        Assert.Equal(0, attached.ExitCode);
        Assert.Equal("2\n", attached.Stdout);

        var detached = _md.Run("start", name);
        Assert.Equal(name + "\n", detached.Stdout);
        Assert.Equal("0\n", _md.Run("wait", name).Stdout);
        Assert.Equal("3\n", _md.Run("logs", name).Stdout);
        Assert.Single(_md.ContainerDirs());
    }

    [Fact]
    public void Restart_runs_a_new_process_and_start_of_a_running_container_changes_nothing()
    {
        RunDetached("--name", Name("re"), "busybox", "sleep", "600");
        int before = Inspect(Name("re")).GetProperty("State").GetProperty("Pid").GetInt32();
        Assert.Equal(Name("re") + "\n", _md.Run("start", Name("re")).Stdout);
        Assert.Equal(before, Inspect(Name("re")).GetProperty("State").GetProperty("Pid").GetInt32());

        var r = _md.Run("restart", "-t", "0", Name("re"));
        Assert.Equal(Name("re") + "\n", r.Stdout);
        var state = Inspect(Name("re")).GetProperty("State");
        Assert.True(state.GetProperty("Running").GetBoolean());
        Assert.NotEqual(before, state.GetProperty("Pid").GetInt32());
        Assert.False(Directory.Exists($"/proc/{before}"));
    }

    [Fact]
    public void Wait_blocks_until_the_container_ends_and_prints_its_exit_code()
    {
        RunDetached("--name", Name("wait"), "busybox", "sh", "-c", "sleep 0.3; exit 5");
        var r = _md.Run("wait", Name("wait"));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("5\n", r.Stdout);
        Assert.Contains("Exited (5)", _md.Run("ps", "-a").Stdout);
    }

    [Fact]
    public void Rename_keeps_names_unique()
    {
        _md.Run("run", "--network", "none", "--name", Name("old"), "busybox", "true");
        _md.Run("run", "--network", "none", "--name", Name("other"), "busybox", "true");
        Assert.Equal(0, _md.Run("rename", Name("old"), Name("new")).ExitCode);
        Assert.Equal("/" + Name("new"), Inspect(Name("new")).GetProperty("Name").GetString());
        Assert.Equal(1, _md.Run("inspect", Name("old")).ExitCode);

        var taken = _md.Run("rename", Name("new"), Name("other"));
        Assert.Equal(1, taken.ExitCode);
        Assert.Contains("already in use", taken.Stderr);
        var invalid = _md.Run("rename", Name("new"), "no/slashes");
        Assert.Equal(1, invalid.ExitCode);
        Assert.Contains("invalid container name", invalid.Stderr);
    }

    [Fact]
    public void Concurrent_renames_to_one_name_let_exactly_one_win()
    {
        var ids = Enumerable.Range(0, 4).Select(i => RunDetached("--name", Name($"rn{i}"), "busybox", "sleep", "600")).ToList();
        var processes = ids.Select(id => _md.Start(false, "rename", id[..12], Name("winner"))).ToList();
        var results = processes.Select(p => Finish(p)).ToList();
        foreach (var p in processes) p.Dispose();
        Assert.Single(results, r => r.ExitCode == 0);
        Assert.Single(Lines(_md.Run("ps", "--format", "json").Stdout), l => l.Contains($"\"Names\":\"{Name("winner")}\""));
    }

    [Fact]
    public void Inspect_gives_dockers_shape()
    {
        string id = RunDetached("--name", Name("insp"), "-h", "ih", "-e", "FOO=bar", "--restart", "on-failure:3",
            "busybox", "sleep", "600");
        var c = Inspect(Name("insp"));
        Assert.Equal(id, c.GetProperty("Id").GetString());
        Assert.Equal("/" + Name("insp"), c.GetProperty("Name").GetString());
        Assert.Equal("sleep", c.GetProperty("Path").GetString());
        Assert.Equal(["600"], c.GetProperty("Args").EnumerateArray().Select(a => a.GetString()));
        var state = c.GetProperty("State");
        Assert.Equal("running", state.GetProperty("Status").GetString());
        Assert.True(state.GetProperty("Running").GetBoolean());
        Assert.True(state.GetProperty("Pid").GetInt32() > 0);
        Assert.True(DateTimeOffset.Parse(state.GetProperty("StartedAt").GetString()!) > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal("0001-01-01T00:00:00Z", state.GetProperty("FinishedAt").GetString());
        var config = c.GetProperty("Config");
        Assert.Equal("ih", config.GetProperty("Hostname").GetString());
        Assert.Equal("busybox", config.GetProperty("Image").GetString());
        Assert.Contains("FOO=bar", config.GetProperty("Env").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["sleep", "600"], config.GetProperty("Cmd").EnumerateArray().Select(a => a.GetString()));
        var host = c.GetProperty("HostConfig");
        Assert.Equal("on-failure", host.GetProperty("RestartPolicy").GetProperty("Name").GetString());
        Assert.Equal(3, host.GetProperty("RestartPolicy").GetProperty("MaximumRetryCount").GetInt32());
        Assert.Equal("none", host.GetProperty("NetworkMode").GetString());
        Assert.Equal(JsonValueKind.Array, c.GetProperty("Mounts").ValueKind);
        Assert.Equal(JsonValueKind.Object, c.GetProperty("NetworkSettings").ValueKind);

        var mixed = _md.Run("inspect", Name("insp"), "nosuchcontainer");
        Assert.Equal(1, mixed.ExitCode);
        Assert.Equal(1, JsonDocument.Parse(mixed.Stdout).RootElement.GetArrayLength());
        Assert.Contains("nosuchcontainer", mixed.Stderr);
    }

    [Fact]
    public void Restart_policy_on_failure_2_restarts_twice_then_stays_exited()
    {
        RunDetached("--name", Name("flaky"), "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3");
        // wait returns once the monitor has let go: no restart can follow.
        Assert.Equal("3\n", _md.Run("wait", Name("flaky")).Stdout);
        var c = Inspect(Name("flaky"));
        Assert.Equal(2, c.GetProperty("RestartCount").GetInt32());
        Assert.Equal("exited", c.GetProperty("State").GetProperty("Status").GetString());
        Assert.Equal("run\nrun\nrun\n", _md.Run("logs", Name("flaky")).Stdout);
        Assert.Contains("Exited (3)", _md.Run("ps", "-a").Stdout);

        // A program that succeeds is not restarted by on-failure.
        RunDetached("--name", Name("fine"), "--restart", "on-failure", "busybox", "true");
        Assert.Equal("0\n", _md.Run("wait", Name("fine")).Stdout);
        Assert.Equal(0, Inspect(Name("fine")).GetProperty("RestartCount").GetInt32());
    }

    [Fact]
    public void Stop_is_not_undone_by_the_restart_policy()
    {
        RunDetached("--name", Name("always"), "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 600");
        Eventually(() => _md.Run("logs", Name("always")).Stdout.Contains("up"), "the program runs");
        Assert.Equal(0, _md.Run("stop", "-t", "0", Name("always")).ExitCode);
        Assert.Equal("137\n", _md.Run("wait", Name("always")).Stdout);
        var c = Inspect(Name("always"));
        Assert.Equal("exited", c.GetProperty("State").GetProperty("Status").GetString());
        Assert.Equal(0, c.GetProperty("RestartCount").GetInt32());
    }

    [Fact]
    public void Restart_and_rm_flags_conflict_and_bad_policies_are_refused()
    {
        var both = _md.Run("run", "--rm", "--restart", "always", "busybox", "true");
        Assert.Equal(125, both.ExitCode);
        Assert.Contains("--restart and --rm", both.Stderr);
        var bad = _md.Run("run", "--restart", "sometimes", "busybox", "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("invalid restart policy", bad.Stderr);
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Rm_f_of_a_container_that_is_still_starting_leaves_nothing_behind()
    {
        for (int i = 0; i < 6; i++)
        {
            string name = Name($"rmrace{i}");
            string marker = UniqueSleep();
            using var run = _md.Start(false, "run", "-d", "--network", "none", "--name", name, "busybox", "sleep", marker);
            // Staggered so the rm -f lands in each phase: before the monitor owns the container, while it sets it up,
            // and once it runs.
            Thread.Sleep(15 * i);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            Result rm;
            do rm = _md.Run("rm", "-f", name);
            while (rm.ExitCode != 0 && !run.HasExited && DateTime.UtcNow < deadline);
            var started = Finish(run);
            if (started.ExitCode != 0)
                Assert.Single(Lines(started.Stderr)); // one clear line, not a stack trace
            if (rm.ExitCode != 0) Assert.Equal(0, _md.Run("rm", "-f", name).ExitCode); // the run won the race

            Assert.Empty(_md.ContainerDirs());
            Eventually(() => ProcessesWith(marker).Count == 0, "the container's process is gone");
            Assert.DoesNotContain(_md.Root, File.ReadAllText("/proc/self/mountinfo"));
        }
    }

    [Fact]
    public void Logs_give_back_what_the_program_wrote_and_the_log_is_docker_json_file()
    {
        // Quotes, backslashes, a tab, a control character, non-ASCII text, bytes that are not UTF-8 (they come back
        // as U+FFFD), a line longer than the 16 KiB a log entry holds, and a last line without a newline.
        string name = Name("logtext");
        RunDetached("--name", name, "busybox", "sh", "-c",
            "printf 'quote \" back \\\\ tab \\t bell \\a \\303\\251 \\346\\227\\245\\n'; " +
            "printf '\\377\\376ok\\n' >&2; head -c 20000 /dev/zero | tr '\\0' a; echo; printf 'no newline'");
        Assert.Equal("0\n", _md.Run("wait", name).Stdout);

        var logs = _md.Run("logs", name);
        Assert.Equal("quote \" back \\ tab \t bell \a \u00e9 \u65e5\n" + new string('a', 20000) + "\nno newline", logs.Stdout);
        Assert.Equal("\uFFFD\uFFFDok\n", logs.Stderr);

        string id = Inspect(name).GetProperty("Id").GetString()!;
        var lines = File.ReadAllLines(Path.Combine(_md.Root, "containers", id, "container.log"));
        Assert.Equal(5, lines.Length); // the 20000-byte line is two entries
        foreach (string line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            Assert.Equal(["log", "stream", "time"], entry.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", entry.RootElement.GetProperty("time").GetString());
        }
    }

    [Fact]
    public void Logs_follow_while_it_runs_ends_when_the_container_ends()
    {
        RunDetached("--name", Name("follow"), "busybox", "sh", "-c", "echo one; sleep 0.5; echo two; sleep 0.5; echo three");
        using var logs = _md.Start(false, "logs", "-f", Name("follow"));
        var r = Finish(logs, seconds: 30);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("one\ntwo\nthree\n", r.Stdout);
    }

    [Fact]
    public void Killing_the_monitor_and_the_container_shows_exited_and_system_prune_cleans_up()
    {
        string id = RunDetached("--name", Name("crash"), "busybox", "sleep", "600");
        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_md.Root, "containers", id, "state.json"))).RootElement;
        int monitor = state.GetProperty("monitorPid").GetInt32(), program = state.GetProperty("pid").GetInt32();
        Process.Start("kill", ["-9", monitor.ToString(), program.ToString()])!.WaitForExit();
        Eventually(() => !Directory.Exists($"/proc/{program}") && !Directory.Exists($"/proc/{monitor}"), "both are gone");

        var ps = _md.Run("ps", "-a").Stdout;
        Assert.DoesNotContain("Up", ps);
        Assert.Matches(new Regex($@"Exited \(255\) .* ago\s+{Name("crash")}"), ps);
        Assert.DoesNotContain(Name("crash"), _md.Run("ps").Stdout);

        // A run killed while creating leaves a directory without a config: prune removes that too.
        string half = Path.Combine(_md.Root, "containers", new string('e', 64));
        Directory.CreateDirectory(Path.Combine(half, "upper"));
        var prune = _md.Run("system", "prune", "-f");
        Assert.Equal(0, prune.ExitCode);
        Assert.Contains(id, prune.Stdout);
        Assert.Contains("Total reclaimed space:", prune.Stdout);
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void System_prune_keeps_running_containers()
    {
        RunDetached("--name", Name("keep"), "busybox", "sleep", "600");
        _md.Run("run", "--network", "none", "--name", Name("gone"), "busybox", "true");
        // Without -f it asks, and "n" keeps everything.
        var declined = _md.RunWith("n\n", TimeSpan.FromSeconds(30), "system", "prune");
        Assert.Equal(0, declined.ExitCode);
        Assert.Contains("[y/N]", declined.Stdout);
        Assert.Contains(Name("gone"), _md.Run("ps", "-a").Stdout);

        var prune = _md.Run("system", "prune", "--force");
        Assert.Equal(0, prune.ExitCode);
        var all = _md.Run("ps", "-a").Stdout;
        Assert.Contains(Name("keep"), all);
        Assert.DoesNotContain(Name("gone"), all);
        Assert.Contains(Name("keep"), _md.Run("ps").Stdout);
    }

    [Fact]
    public void Sigkill_of_a_foreground_run_leaves_a_container_that_ps_and_rm_handle()
    {
        string marker = UniqueSleep();
        using var run = _md.Start(false, "run", "--network", "none", "--name", Name("fg"), "busybox", "sleep", marker);
        Eventually(() => ProcessesWith(marker).Count == 1, "the program runs");
        run.Kill();
        run.WaitForExit();
        // The program itself was not killed: it still runs, and ps says so truthfully.
        Assert.Contains(Name("fg"), _md.Run("ps").Stdout);
        Assert.Equal(1, _md.Run("rm", Name("fg")).ExitCode);
        Assert.Equal(0, _md.Run("rm", "-f", Name("fg")).ExitCode);
        Eventually(() => ProcessesWith(marker).Count == 0, "the program is gone");
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Ps_shows_a_detached_containers_own_exit_truthfully()
    {
        RunDetached("--name", Name("own"), "busybox", "sh", "-c", "exit 3");
        Assert.Equal("3\n", _md.Run("wait", Name("own")).Stdout);
        var line = Lines(_md.Run("ps", "-a", "--format", "json").Stdout).Single(l => l.Contains(Name("own")));
        var row = JsonDocument.Parse(line).RootElement;
        Assert.Equal("exited", row.GetProperty("State").GetString());
        Assert.Matches(@"^Exited \(3\) (Less than a second|\d+ seconds) ago$", row.GetProperty("Status").GetString());
    }
}
