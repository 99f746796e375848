using System.Text.Json;
using MiniDocker.Linux;
using MiniDocker.Runtime.Init;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>What `exec` was asked for.</summary>
public sealed record ExecRequest(IReadOnlyList<string> Command, IReadOnlyList<string> Env, string? WorkingDir,
    string? User, bool Tty, bool Interactive);

/// <summary>What the exec-init receives (one JSON line on its command pipe).</summary>
public sealed class ExecSpec
{
    public List<string> Args { get; set; } = new();
    public List<string> Env { get; set; } = new();
    public string WorkingDir { get; set; } = "/";
    public string? User { get; set; }
    public int? Pty { get; set; }
    public bool Interactive { get; set; }
    /// <summary>The container's: an exec gets no more than the container's program got.</summary>
    public List<string> Capabilities { get; set; } = new();
    public List<string> GroupAdd { get; set; } = new();
    /// <summary>The container's seccomp filter and no_new_privs: an exec is confined as the container is.</summary>
    public Security.SecurityConfig? Security { get; set; }
    /// <summary>The container's --ulimit values: an exec runs under the limits its program has (runc does the same).</summary>
    public List<Cgroups.Ulimit> Ulimits { get; set; } = new();
}

/// <summary>
/// `exec`: runs a program in a running container's namespaces, with the container's capability bounding set, and
/// returns its exit status. See <see cref="ExecInit"/> for the container side.
/// </summary>
public static class ContainerExec
{
    public static int Run(ContainerConfig config, ProcessHandle container, ExecRequest request)
    {
        if (request.Command.Count == 0) throw new ContainerException("exec: no command given", 1);
        var userEnv = ContainerConfigFactory.UserEnv(new RunRequest { Env = request.Env.ToList() }, Environment.GetEnvironmentVariable);
        var spec = new ExecSpec
        {
            Args = request.Command.ToList(),
            Env = ContainerConfigFactory.BuildEnv(config.Env, userEnv, config.Hostname, request.Tty),
            WorkingDir = request.WorkingDir ?? (config.WorkingDir.Length > 0 ? config.WorkingDir : "/"),
            User = request.User ?? config.User,
            GroupAdd = request.User is null ? config.GroupAdd : [],
            Interactive = request.Interactive,
            Capabilities = config.EffectiveCapabilities.ToList(),
            Security = config.Security,
            Ulimits = config.Ulimits,
        };
        if (!spec.WorkingDir.StartsWith('/'))
            throw new ContainerException($"the working directory '{spec.WorkingDir}' is invalid, it needs to be an absolute path", 1);

        Fd? master = null;
        if (request.Tty)
        {
            (master, int number) = Launcher.OpenPtyMaster(container.Pid);
            spec.Pty = number;
        }
        using (master)
        {
            var (reportRead, reportWrite) = Fd.Pipe();
            var (commandRead, commandWrite) = Fd.Pipe();
            using (reportRead)
            using (commandWrite)
            {
                int pid;
                using (reportWrite)
                using (commandRead)
                    pid = SpawnInNamespaces(config, container, reportWrite.Value, commandRead.Value);
                // Into the container's cgroup (its device rules) before the program is even named to it.
                try { Cgroups.CgroupManagers.ForHost().AddProcessBeside(container.Pid, pid); }
                catch (ContainerException)
                {
                    kill(pid, SIGKILL);
                    Launcher.Reap(pid);
                    throw;
                }
                SyncMessage? report;
                try
                {
                    var channel = new SyncChannel(reportRead.Value, commandWrite.Value);
                    channel.Send(new SyncMessage.Exec(spec));
                    report = channel.Receive();
                }
                catch (SyscallException)
                {
                    kill(pid, SIGKILL);
                    throw new ContainerException($"exec: the process in the container ended before it started ({Launcher.Reap(pid)})");
                }
                if (report is not null)
                {
                    Launcher.Reap(pid);
                    throw report.Unexpected("exec");
                }
                if (master is not null)
                {
                    using var terminal = new Terminal(master);
                    terminal.Relay(request.Interactive);
                }
                return Launcher.Reap(pid);
            }
        }
    }

    /// <summary>setns() on a dedicated thread (namespaces are per thread), then posix_spawn from it: the child is in
    /// the container's pid namespace. All five at once through the pidfd, so they are the namespaces of the one
    /// process we verified, not of whatever has its pid by now.</summary>
    private static int SpawnInNamespaces(ContainerConfig config, ProcessHandle container, int reportFd, int commandFd)
    {
        int flags = CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWCGROUP;
        if (config.NetworkMode != "host") flags |= CLONE_NEWNET;
        var (path, argv) = SelfExe.Command();
        argv.Add("exec-init");
        var fdMap = new List<(int, int)>
        {
            (reportFd, SyncFds.InitReportFd), (commandFd, SyncFds.InitCommandFd), (container.PidFd, ExecInit.ContainerPidFd),
        };
        void Enter()
        {
            Check(setns(container.PidFd, flags), "setns", $"namespaces of process {container.Pid}");
            // A mount namespace of this thread's own for the read-only executable; exec's init enters the
            // container's after the exec.
            Check(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
            ExecutableGuard.MakeReadOnly(path);
        }
        // The container's user namespace cannot be joined by this multithreaded process: the C child joins it (through
        // the pidfd) and becomes its root before exec's init runs.
        if (config.OwnUserns) return Userns.UsernsLaunch.SpawnExec(Enter, ExecInit.ContainerPidFd, path, argv, fdMap);
        return Spawn.InNamespaces(Enter, path, argv, fdMap, "exec: cannot enter the container");
    }
}
