using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using MiniDocker.Runtime.Security;
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
        var channel = new SyncChannel(SyncFds.InitCommandFd, SyncFds.InitReportFd);
        try
        {
            ContainerConfig config;
            try { config = InitConfigReader.Read(File.ReadAllBytes(Path.Combine(containerDir, "config.json"))); }
            catch (JsonException e) { throw new ContainerException($"config.json cannot be read: {e.Message}"); }
            RootfsSetup.Prepare(config, containerDir);
            if (config.NetworkMode != "host") Loopback.BringUp();
            channel.Send(new SyncMessage.Mounted());

            int? pty = null;
            while (true)
            {
                var command = channel.Receive();
                if (command is null) return ExitCodes.RuntimeError; // parent gone before start: give up quietly
                if (command is SyncMessage.Start) break;
                if (command is SyncMessage.Pty p) pty = p.Number;
                else throw command.Unexpected("minidocker");
            }
            return Exec(config, pty, channel);
        }
        catch (Exception e)
        {
            int code = e is ContainerException ce ? ce.ExitCode : ExitCodes.RuntimeError;
            TrySend(channel, new SyncMessage.Failed(code, e.Message));
            return code;
        }
    }

    internal static void TrySend(SyncChannel channel, SyncMessage message)
    {
        try { channel.Send(message); } catch (SyscallException) { /* parent gone: nobody to tell */ }
    }

    private static unsafe int Exec(ContainerConfig config, int? pty, SyncChannel channel)
    {
        // "start" comes after the parent has moved this process into every cgroup of the container: a cgroup namespace
        // made now is rooted there, so the container sees its cgroup as "/" and nothing of the host's tree.
        Check(unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
        var hostname = Encoding.UTF8.GetBytes(config.Hostname);
        fixed (byte* h = hostname) Check(sethostname(h, hostname.Length), "sethostname", config.Hostname);

        AttachStdio(pty, config.Interactive);

        string cwd = config.WorkingDir.Length > 0 ? config.WorkingDir : "/";
        if (File.Exists(cwd))
            throw new ContainerException($"chdir to cwd (\"{cwd}\") failed: not a directory", ExitCodes.CannotExecute);
        Directory.CreateDirectory(cwd); // Docker creates a missing WORKDIR too
        Check(chdir(cwd), "chdir", cwd);

        string program = ResolveExecutable(config.Args[0], config.Env);
        var args = config.Args;
        if (config.Init)
        {
            // tini is PID 1 and runs the program as its child: it forwards signals and reaps orphans (Docker's layout).
            args = [UserMounts.InitPath, "--", .. config.Args];
            program = UserMounts.InitPath;
        }
        var user = config.User is null && config.GroupAdd.Count == 0 ? null
            : UserSpec.Resolve(config.User, UserSpec.ReadOrEmpty("/etc/passwd"), UserSpec.ReadOrEmpty("/etc/group"), config.GroupAdd);
        SetUlimits(config.Ulimits); // with CAP_SYS_RESOURCE still held, so a hard limit may be raised
        SecuritySteps.JoinNewSessionKeyring();
        SecuritySteps.BeforeCapabilityDrop(config.Security);
        if (config.OwnUserns)
        {
            // On this thread, which executes the program (capabilities are per thread).
            int r = Userns.UsernsNative.ClearInheritedCapabilities();
            if (r < 0) throw new SyscallException("capset(inheritable, ambient)", null, -r);
        }
        DropPrivileges(config.EffectiveCapabilities, user);
        return ExecProgram(program, args, config.Env, channel, config.Security);
    }

    /// <summary>--ulimit: setrlimit for each; one that the kernel refuses stops the container (Docker: runc fails).</summary>
    internal static unsafe void SetUlimits(IReadOnlyList<Cgroups.Ulimit> ulimits)
    {
        ulong* limits = stackalloc ulong[2];
        foreach (var u in ulimits)
        {
            limits[0] = u.Soft < 0 ? ulong.MaxValue : (ulong)u.Soft; // -1: RLIM_INFINITY
            limits[1] = u.Hard < 0 ? ulong.MaxValue : (ulong)u.Hard;
            if (setrlimit(Cgroups.ResourceLimits.UlimitResources[u.Name], limits) != 0)
                throw new ContainerException($"cannot set ulimit {u.Name}={u.Soft}:{u.Hard}: {Marshal.GetPInvokeErrorMessage(LastErrno)}");
        }
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
    internal static unsafe int ExecProgram(string program, IReadOnlyList<string> args, IReadOnlyList<string> env, SyncChannel channel,
        SecurityConfig? security)
    {
        ResetSignals();
        // From here fd 3 closes on a successful execve: the parent reads EOF and knows the program runs.
        SetCloexec(SyncFds.InitReportFd, true);
        SetCloexec(SyncFds.InitCommandFd, true);
        // Whatever else the user's shell leaked into minidocker (fds without CLOEXEC) must not reach the container: a
        // host directory fd there is a way out (CVE-2024-21626), so a failure here stops the container.
        Check(syscall(SYS_close_range, 3, uint.MaxValue, CLOSE_RANGE_CLOEXEC), "close_range(CLOEXEC)");

        using var strings = new NativeStrings();
        byte* path = strings.Add(program);
        byte** argv = strings.AddArray(args), envp = strings.AddArray(env);
        SecuritySteps.BeforeExec(security); // with no_new_privs the filter comes last: it need not allow our own steps
        execve(path, argv, envp);
        int errno = LastErrno;
        var (code, reason) = (Errno)errno switch
        {
            Errno.ENOENT => (ExitCodes.NotFound, "no such file or directory"), // e.g. a missing #! interpreter
            Errno.EACCES => (ExitCodes.CannotExecute, "permission denied"),
            Errno.ENOEXEC => (ExitCodes.CannotExecute, "exec format error"),
            _ => (ExitCodes.CannotExecute, Marshal.GetPInvokeErrorMessage(errno)),
        };
        TrySend(channel, new SyncMessage.Failed(code, $"exec: \"{args[0]}\": {reason}"));
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

    /// <summary>The last steps before execve (no_new_privs and a filter loaded after it come in ExecProgram), in this
    /// order: the bounding set (a later setuid could not trim it), then the identity (setgroups/setresgid/setresuid
    /// need CAP_SETGID/SETUID, still held).</summary>
    internal static void DropPrivileges(IReadOnlyList<string> capabilities, ContainerUser? user)
    {
        var keep = capabilities.Select(Capabilities.Number).ToHashSet();
        int last = int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim());
        // For uid 0, execve sets permitted = bounding set (the inheritable set is empty), so trimming the bounding
        // set is what limits the program; a non-root user gets no capabilities at execve anyway.
        for (int cap = 0; cap <= last; cap++)
            if (!keep.Contains(cap))
                Check(prctl(PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)", cap.ToString());
        user?.Apply();
    }

    private static unsafe void ResetSignals()
    {
        // .NET ignores SIGPIPE, and an ignored signal stays ignored across execve.
        for (int sig = 1; sig < 65; sig++)
            if (sig != SIGKILL && sig != SIGSTOP) signal(sig, 0 /* SIG_DFL */);
        byte* empty = stackalloc byte[128];
        sigemptyset(empty);
        Check(sigprocmask(SIG_SETMASK, empty, null), "sigprocmask");
    }
}
