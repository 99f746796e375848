using System.Text.Json;
using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using MiniDocker.Runtime.Security;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Init;

/// <summary>
/// The process `exec` starts: minidocker re-executed as <c>minidocker exec-init</c>, spawned by
/// <see cref="ContainerExec"/> from a thread that joined the container's uts, ipc, net, pid and cgroup namespaces, so
/// it already is in the container's pid namespace. The mount namespace is joined here, after this program has been
/// loaded: minidocker is dynamically linked and the image (busybox) has no /lib64/ld-linux-x86-64.so.2, so it cannot
/// be executed from inside the container's root. Then as the container's init: capabilities, user, cwd, execve.
/// Same line protocol as the init (fd 3 reports, fd 4 commands); the container's pidfd is at fd 5.
/// </summary>
public static class ExecInit
{
    public const int ContainerPidFd = 5;

    public static int Run()
    {
        var channel = new SyncChannel(SyncFds.InitCommandFd, SyncFds.InitReportFd);
        try
        {
            var message = channel.Receive() ?? throw new ContainerException("exec: no specification from minidocker");
            var spec = message is SyncMessage.Exec exec ? exec.Spec : throw message.Unexpected("minidocker");
            // setns(CLONE_NEWNS) refuses a caller that shares its fs struct (root, cwd) with other threads.
            Check(unshare(CLONE_FS), "unshare(CLONE_FS)");
            Check(setns(ContainerPidFd, CLONE_NEWNS), "setns(mnt)", "the container's mount namespace");
            close(ContainerPidFd);

            var user = UserSpec.Resolve(spec.User, UserSpec.ReadOrEmpty("/etc/passwd"), UserSpec.ReadOrEmpty("/etc/group"), spec.GroupAdd);
            ContainerInit.AttachStdio(spec.Pty, spec.Interactive);
            if (chdir(spec.WorkingDir) == -1)
                throw new ContainerException($"chdir to cwd (\"{spec.WorkingDir}\") failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(LastErrno).ToLowerInvariant()}", ExitCodes.CannotExecute);
            string program = ContainerInit.ResolveExecutable(spec.Args[0], spec.Env);
            ContainerInit.SetUlimits(spec.Ulimits);
            SecuritySteps.JoinNewSessionKeyring();
            SecuritySteps.BeforeCapabilityDrop(spec.Security);
            ContainerInit.DropPrivileges(spec.Capabilities, user);
            return ContainerInit.ExecProgram(program, spec.Args, spec.Env, channel, spec.Security);
        }
        catch (Exception e)
        {
            int code = e is ContainerException ce ? ce.ExitCode : ExitCodes.RuntimeError;
            ContainerInit.TrySend(channel, new SyncMessage.Failed(code, e.Message));
            return code;
        }
    }
}
