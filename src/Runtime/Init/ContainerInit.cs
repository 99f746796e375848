using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Init;

/// <summary>
/// The container's first process: minidocker re-executed as <c>minidocker init DIR</c> by <see cref="Launcher"/>,
/// already in the new namespaces. It prepares the root, waits for "start", then execve()s the user's program, which
/// becomes PID 1. See <see cref="SyncMessage"/> for the protocol.
/// </summary>
public static class ContainerInit
{
    public static int Run(string containerDir)
    {
        var channel = new SyncChannel(SyncMessage.InitCommandFd, SyncMessage.InitReportFd);
        try
        {
            var config = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(containerDir, "config.json")),
                RuntimeJson.Default.ContainerConfig) ?? throw new ContainerException("config.json is empty");
            RootfsSetup.Prepare(config, containerDir);
            channel.Send(SyncMessage.Mounted);

            int? pty = null;
            while (true)
            {
                string? command = channel.Receive();
                if (command is null) return ExitCodes.RuntimeError; // parent gone before start: give up quietly
                if (command == SyncMessage.Start) break;
                if (command.StartsWith(SyncMessage.Pty + " ", StringComparison.Ordinal)) pty = int.Parse(command[4..]);
            }
            return Exec(config, pty, channel);
        }
        catch (Exception e)
        {
            int code = e is ContainerException ce ? ce.ExitCode : ExitCodes.RuntimeError;
            TrySend(channel, $"{SyncMessage.Error} {code} {e.Message}");
            return code;
        }
    }

    internal static void TrySend(SyncChannel channel, string line)
    {
        try { channel.Send(line); } catch (SyscallException) { /* parent gone: nobody to tell */ }
    }

    private static unsafe int Exec(ContainerConfig config, int? pty, SyncChannel channel)
    {
        var hostname = Encoding.UTF8.GetBytes(config.Hostname);
        fixed (byte* h = hostname) Check(sethostname(h, hostname.Length), "sethostname", config.Hostname);

        AttachStdio(pty, config.Interactive);

        string cwd = config.WorkingDir.Length > 0 ? config.WorkingDir : "/";
        Directory.CreateDirectory(cwd); // Docker creates a missing WORKDIR too
        Check(chdir(cwd), "chdir", cwd);

        string program = ResolveExecutable(config.Args[0], config.Env);
        DropCapabilities();
        return ExecProgram(program, config.Args, config.Env, channel);
    }

    /// <summary>A new session with the pty's slave (/dev/pts/N of the container's devpts) as stdio and controlling
    /// terminal; without a pty, stdin is /dev/null unless the user asked for it (-i).</summary>
    internal static unsafe void AttachStdio(int? pty, bool interactive)
    {
        // A session of its own: the user's terminal job control (Ctrl-C, Ctrl-Z) must reach the container through
        // minidocker's relay, not directly, or the program would get each signal twice.
        setsid();
        if (pty is int n)
        {
            string slave = $"/dev/pts/{n}";
            int fd = Check(open(slave, O_RDWR | O_NOCTTY, 0), "open", slave);
            Check(ioctl(fd, TIOCSCTTY, null), "ioctl(TIOCSCTTY)", slave);
            for (int std = 0; std < 3; std++) Check(dup2(fd, std), "dup2", slave);
            if (fd > 2) close(fd);
        }
        else if (!interactive)
        {
            int fd = Check(open("/dev/null", O_RDONLY, 0), "open", "/dev/null");
            Check(dup2(fd, 0), "dup2", "/dev/null");
            close(fd);
        }
    }

    /// <summary>The last step of the init and of an exec: execve() with signals reset and no stray fds; returns
    /// only if execve failed, after reporting it with Docker's wording and exit code.</summary>
    internal static unsafe int ExecProgram(string program, IReadOnlyList<string> args, IReadOnlyList<string> env, SyncChannel channel)
    {
        ResetSignals();
        // From here fd 3 closes on a successful execve: the parent reads EOF and knows the program runs.
        SetCloexec(SyncMessage.InitReportFd, true);
        SetCloexec(SyncMessage.InitCommandFd, true);
        // Whatever else the user's shell leaked into minidocker (fds without CLOEXEC) must not reach the container.
        syscall(SYS_close_range, 3, uint.MaxValue, CLOSE_RANGE_CLOEXEC);

        using var strings = new NativeStrings();
        execve(strings.Add(program), strings.AddArray(args), strings.AddArray(env));
        int errno = LastErrno;
        var (code, reason) = errno switch
        {
            2 => (ExitCodes.NotFound, "no such file or directory"),           // ENOENT: e.g. a missing #! interpreter
            13 => (ExitCodes.CannotExecute, "permission denied"),            // EACCES
            8 => (ExitCodes.CannotExecute, "exec format error"),             // ENOEXEC
            _ => (ExitCodes.CannotExecute, Marshal.GetPInvokeErrorMessage(errno)),
        };
        TrySend(channel, $"{SyncMessage.Error} {code} exec: \"{args[0]}\": {reason}");
        return code;
    }

    /// <summary>execvp's PATH search, done before execve so "not found" (127) and "not executable" (126) can be
    /// told apart with Docker's messages.</summary>
    internal static string ResolveExecutable(string name, IReadOnlyList<string> env)
    {
        if (name.Contains('/'))
        {
            if (!File.Exists(name) && !Directory.Exists(name))
                throw new ContainerException($"exec: \"{name}\": no such file or directory", ExitCodes.NotFound);
            if (Directory.Exists(name))
                throw new ContainerException($"exec: \"{name}\": is a directory", ExitCodes.CannotExecute);
            return name;
        }
        string path = env.FirstOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..]
                      ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new ContainerException($"exec: \"{name}\": executable file not found in $PATH", ExitCodes.NotFound);
    }

    /// <summary>Docker's default capability set; everything else leaves the bounding set, so root in the container
    /// cannot load modules, change the clock, use raw I/O, trace host processes or remount.</summary>
    private static readonly int[] DefaultCapabilities = [0 /*CHOWN*/, 1 /*DAC_OVERRIDE*/, 3 /*FOWNER*/, 4 /*FSETID*/,
        5 /*KILL*/, 6 /*SETGID*/, 7 /*SETUID*/, 8 /*SETPCAP*/, 10 /*NET_BIND_SERVICE*/, 13 /*NET_RAW*/,
        18 /*SYS_CHROOT*/, 27 /*MKNOD*/, 29 /*AUDIT_WRITE*/, 31 /*SETFCAP*/];

    internal static void DropCapabilities()
    {
        int last = int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim());
        // For uid 0, execve sets permitted = bounding set (the inheritable set is empty), so trimming the bounding
        // set is what limits the program.
        for (int cap = 0; cap <= last; cap++)
            if (Array.IndexOf(DefaultCapabilities, cap) < 0)
                Check(prctl(PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)", cap.ToString());
    }

    private static unsafe void ResetSignals()
    {
        // .NET ignores SIGPIPE, and an ignored signal stays ignored across execve.
        for (int sig = 1; sig < 65; sig++)
            if (sig != 9 && sig != 19) signal(sig, 0 /* SIG_DFL */);
        byte* empty = stackalloc byte[128];
        sigemptyset(empty);
        sigprocmask(2 /* SIG_SETMASK */, empty, null);
    }
}
