using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MiniDocker.IntegrationTests;

/// <summary>`minidocker run` as a user sees it: isolation, stdio, exit statuses, errors.</summary>
public sealed class RunTests : IDisposable
{
    private readonly MiniDocker _md = new();
    public void Dispose() => _md.Dispose();

    [Fact]
    public void A_bad_flag_is_refused_before_a_missing_image_is_pulled()
    {
        // 127.0.0.1:1 has no registry: the test shows nothing was tried (no "Unable to find image", no connection error).
        foreach (var flags in new[] { new[] { "--cpus", "-1" }, ["-v", "/x:relative"], ["--memory", "abc"], ["--restart", "sometimes"] })
        {
            var r = _md.Run(["run", "--rm", .. flags, "127.0.0.1:1/nothing:latest", "true"]);
            Assert.True(r.ExitCode == 125, r.ToString());
            Assert.DoesNotContain("Unable to find image", r.Stderr);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Prints_output_and_exits_zero()
    {
        var r = _md.Run("run", "--rm", "busybox", "echo", "hello");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("hello\n", r.Stdout);
    }

    [Fact]
    public void Program_is_pid_1_and_sees_only_the_containers_processes()
    {
        Assert.Equal("1\n", _md.Run("run", "--rm", "busybox", "sh", "-c", "echo $$").Stdout);
        var ps = _md.Run("run", "--rm", "busybox", "ps", "-o", "pid,comm").Stdout;
        Assert.Equal(["PID COMMAND", "1 ps"], ps.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
    }

    [Fact]
    public void Namespaces_differ_from_the_hosts()
    {
        var r = _md.Run("run", "--rm", "busybox", "sh", "-c",
            "for n in mnt uts ipc pid net cgroup; do readlink /proc/1/ns/$n; done");
        Assert.Equal(0, r.ExitCode);
        var inside = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var host = new[] { "mnt", "uts", "ipc", "pid", "net", "cgroup" }.Select(n => new FileInfo($"/proc/self/ns/{n}").LinkTarget).ToArray();
        Assert.Equal(6, inside.Length);
        for (int i = 0; i < 6; i++) Assert.NotEqual(host[i], inside[i]);
    }

    [Theory]
    [InlineData("exit 3", 3)]
    [InlineData("exit 0", 0)]
    [InlineData("kill -TERM $$; sleep 1; exit 9", 9)] // PID 1 without a handler ignores SIGTERM, as in Docker
    public void Exit_status_propagates(string script, int expected)
    {
        Assert.Equal(expected, _md.Run("run", "--rm", "busybox", "sh", "-c", script).ExitCode);
    }

    [Fact]
    public void A_program_killed_by_SIGKILL_gives_137()
    {
        using var p = _md.Start(false, "run", "--name", "victim", "busybox", "sleep", "30");
        int pid = WaitForPid("victim");
        Process.Start("kill", ["-9", pid.ToString()])!.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Equal(137, p.ExitCode);
        Assert.Contains("Exited (137)", _md.Run("ps", "-a").Stdout);
    }

    [Fact]
    public void Command_not_found_gives_127_with_one_line()
    {
        var r = _md.Run("run", "--rm", "busybox", "nosuchcommand");
        Assert.Equal(127, r.ExitCode);
        Assert.Equal("minidocker: exec: \"nosuchcommand\": executable file not found in $PATH\n", r.Stderr);
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Not_executable_gives_126()
    {
        var r = _md.Run("run", "--rm", "busybox", "/etc/passwd");
        Assert.Equal(126, r.ExitCode);
        Assert.Contains("permission denied", r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Unknown_image_is_a_runtime_error_125_and_creates_nothing()
    {
        var r = _md.Run("run", "--rm", "nosuchimage", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("nosuchimage", r.Stderr);
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Unknown_flag_is_125()
    {
        var r = _md.Run("run", "--no-such-flag", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("--no-such-flag", r.Stderr);
    }

    [Fact]
    public void Arguments_with_spaces_quotes_and_newlines_arrive_intact()
    {
        var r = _md.Run("run", "--rm", "busybox", "printf", "[%s]", "a b", "c\"d'e", "f\ng", "", "-la");
        Assert.Equal("[a b][c\"d'e][f\ng][][-la]", r.Stdout);
    }

    [Fact]
    public void Stdin_is_piped_with_i_and_empty_without()
    {
        Assert.Equal("hi\n", _md.RunWith("hi\n", TimeSpan.FromSeconds(30), "run", "--rm", "-i", "busybox", "cat").Stdout);
        Assert.Equal("", _md.RunWith("hi\n", TimeSpan.FromSeconds(30), "run", "--rm", "busybox", "cat").Stdout);
    }

    [Fact]
    public void Stdout_and_stderr_stay_separate()
    {
        var r = _md.Run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2");
        Assert.Equal("out\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);
    }

    [Fact]
    public void Writes_stay_in_the_containers_layer()
    {
        Assert.Equal(0, _md.Run("run", "--name", "writer", "busybox", "sh", "-c", "echo secret > /etc/motd; rm /bin/ls").ExitCode);
        var other = _md.Run("run", "--rm", "busybox", "sh", "-c", "cat /etc/motd 2>/dev/null; ls / >/dev/null && echo ls-present");
        Assert.Equal("ls-present\n", other.Stdout);
    }

    [Fact]
    public void Root_filesystem_is_the_image_with_the_host_unreachable()
    {
        var r = _md.Run("run", "--rm", "busybox", "sh", "-c",
            "test -e /work -o -e /root/.nuget && echo host-visible; awk '$5 == \"/\"' /proc/self/mountinfo | wc -l; " +
            "touch /sys/x 2>/dev/null || echo sys-ro; ls /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx /dev/pts /dev/shm >/dev/null && echo dev-ok; " +
            "for l in fd stdin stdout stderr; do readlink /dev/$l; done");
        Assert.Equal("1\nsys-ro\ndev-ok\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n", r.Stdout);
    }

    [Fact]
    public void Hostname_defaults_to_the_short_id_and_h_sets_it()
    {
        var r = _md.Run("run", "--name", "hn", "busybox", "sh", "-c", "hostname; cat /etc/hostname");
        var id = _md.Run("ps", "-aq").Stdout.Trim();
        Assert.Equal($"{id}\n{id}\n", r.Stdout);
        Assert.Equal("lab\n", _md.Run("run", "--rm", "-h", "lab", "busybox", "hostname").Stdout);
    }

    [Fact]
    public void Environment_has_docker_defaults_and_user_values()
    {
        string envFile = Path.Combine(_md.Root, "env.list");
        File.WriteAllText(envFile, "# comment\nFROM_FILE=1\nA=from-file\n");
        var r = _md.Run("run", "--rm", "-h", "box", "--env-file", envFile, "-e", "A=b c", "busybox", "env");
        var env = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.Contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", env);
        Assert.Contains("HOSTNAME=box", env);
        Assert.Contains("HOME=/root", env);
        Assert.Contains("A=b c", env);
        Assert.Contains("FROM_FILE=1", env);
        Assert.DoesNotContain(env, e => e.StartsWith("TERM="));
    }

    [Fact]
    public void Working_directory_is_set_and_created()
    {
        Assert.Equal("/srv/app\n", _md.Run("run", "--rm", "-w", "/srv/app", "busybox", "pwd").Stdout);
        var bad = _md.Run("run", "--rm", "-w", "relative", "busybox", "pwd");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("absolute path", bad.Stderr);
    }

    [Fact]
    public void Capabilities_are_dockers_default_set()
    {
        var r = _md.Run("run", "--rm", "busybox", "grep", "CapBnd", "/proc/self/status");
        Assert.Equal("CapBnd:\t00000000a80425fb\n", r.Stdout);
    }

    [Fact]
    public void Rm_flag_removes_the_container_and_without_it_ps_shows_exited()
    {
        _md.Run("run", "--rm", "busybox", "true");
        Assert.Empty(_md.ContainerDirs());
        _md.Run("run", "--name", "kept", "busybox", "sh", "-c", "exit 4");
        var ps = _md.Run("ps", "-a").Stdout;
        Assert.Matches(new Regex(@"Exited \(4\) .* ago\s+kept"), ps);
    }

    [Fact]
    public void Detached_prints_the_id_keeps_running_and_logs()
    {
        var r = _md.Run("run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo started; echo oops >&2; sleep 30");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches("^[0-9a-f]{64}\n$", r.Stdout);
        Assert.Contains("Up ", _md.Run("ps").Stdout);
        string logs = "";
        for (int i = 0; i < 50 && !logs.Contains("oops"); i++) { Thread.Sleep(100); logs = _md.Run("logs", "bg").Stdout + _md.Run("logs", "bg").Stderr; }
        var l = _md.Run("logs", "bg");
        Assert.Equal("started\n", l.Stdout);
        Assert.Equal("oops\n", l.Stderr);
        Assert.Equal(0, _md.Run("rm", "-f", "bg").ExitCode);
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Detached_container_that_ends_by_itself_shows_its_exit_code()
    {
        _md.Run("run", "-d", "--name", "short", "busybox", "sh", "-c", "exit 3");
        string ps = "";
        for (int i = 0; i < 50 && !ps.Contains("Exited"); i++) { Thread.Sleep(100); ps = _md.Run("ps", "-a").Stdout; }
        Assert.Contains("Exited (3)", ps);
    }

    [Fact]
    public void Tty_gives_a_terminal_from_the_containers_own_devpts()
    {
        var r = _md.Run("run", "--rm", "-t", "busybox", "sh", "-c", "tty; echo TERM=$TERM");
        Assert.Equal("/dev/pts/0\r\nTERM=xterm\r\n", r.Stdout);
    }

    [Fact]
    public void Window_size_follows_the_users_terminal()
    {
        // script(1) gives minidocker a real terminal of a known size, as a user's shell would.
        var psi = new ProcessStartInfo("script", ["-qec", $"stty cols 123 rows 45; {MiniDocker.Binary} --root {_md.Root} run --rm -it busybox stty -a", "/dev/null"])
        { RedirectStandardOutput = true, RedirectStandardInput = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Contains("rows 45; columns 123", output);
    }

    [Fact]
    public void Job_control_works_on_the_containers_terminal()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "-t", "busybox", "sh", "-ic", "sleep 1 & jobs; ps -o pid,pgid | tail -n +2 | wc -l");
        Assert.Contains("[1]+  Running", r.Stdout);
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public void Ctrl_c_on_the_users_terminal_reaches_the_program()
    {
        // script(1) is the user's terminal; a 0x03 typed there travels raw through minidocker to the container's pty,
        // whose line discipline turns it into SIGINT for the foreground job.
        var psi = new ProcessStartInfo("script", ["-qec", $"{MiniDocker.Binary} --root {_md.Root} run --rm --net none -it busybox sh -c 'trap \"echo got-int; exit 7\" INT; echo ready; while :; do sleep 0.1; done'", "/dev/null"])
        { RedirectStandardOutput = true, RedirectStandardInput = true };
        using var p = Process.Start(psi)!;
        string seen = "";
        var buffer = new char[256];
        while (!seen.Contains("ready"))
        {
            int n = p.StandardOutput.Read(buffer, 0, buffer.Length);
            if (n <= 0) break;
            seen += new string(buffer, 0, n);
        }
        p.StandardInput.Write('\x03');
        p.StandardInput.Flush();
        seen += p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Contains("got-int", seen);
        Assert.Equal(7, p.ExitCode);
    }

    [Fact]
    public void Sigterm_to_minidocker_reaches_the_program()
    {
        using var p = _md.Start(false, "run", "--name", "trapper", "busybox", "sh", "-c",
            "trap 'echo got TERM; exit 5' TERM; echo ready; while true; do sleep 0.1; done");
        Assert.Equal("ready", p.StandardOutput.ReadLine());
        Process.Start("kill", ["-TERM", p.Id.ToString()])!.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Equal(5, p.ExitCode);
        Assert.Equal("got TERM", p.StandardOutput.ReadLine());
    }

    [Fact]
    public void Sigint_to_minidocker_reaches_the_program()
    {
        using var p = _md.Start(false, "run", "--rm", "busybox", "sh", "-c",
            "trap 'echo got INT; exit 6' INT; echo ready; while true; do sleep 0.1; done");
        Assert.Equal("ready", p.StandardOutput.ReadLine());
        Process.Start("kill", ["-INT", p.Id.ToString()])!.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Equal(6, p.ExitCode);
    }

    [Fact]
    public void Only_stdio_reaches_the_program()
    {
        // fds the user's shell leaked into minidocker (no CLOEXEC) must not reach the container.
        var r = _md.Run("run", "--rm", "busybox", "ls", "/proc/self/fd");
        Assert.Equal("0\n1\n2\n3\n", r.Stdout); // 3 is ls's own handle on the directory
    }

    [Fact]
    public void Duplicate_name_is_refused()
    {
        _md.Run("run", "--name", "same", "busybox", "true");
        var r = _md.Run("run", "--name", "same", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("already in use", r.Stderr);
    }

    [Fact]
    public void Nothing_stays_mounted_on_the_host()
    {
        _md.Run("run", "--rm", "busybox", "true");
        _md.Run("run", "--name", "x", "busybox", "true");
        Assert.DoesNotContain(_md.Root, File.ReadAllText("/proc/self/mountinfo"));
    }

    private int WaitForPid(string name)
    {
        for (int i = 0; i < 100; i++)
        {
            foreach (var dir in _md.ContainerDirs())
            {
                string state = Path.Combine(dir, "state.json");
                if (!File.Exists(state) || !File.ReadAllText(Path.Combine(dir, "config.json")).Contains($"\"name\": \"{name}\"")) continue;
                var text = File.ReadAllText(state);
                if (text.Contains("Running") && Regex.Match(text, "\"pid\": (\\d+)") is { Success: true } pm && pm.Groups[1].Value != "0")
                    return int.Parse(pm.Groups[1].Value);
            }
            Thread.Sleep(100);
        }
        throw new TimeoutException($"container {name} did not start");
    }
}
