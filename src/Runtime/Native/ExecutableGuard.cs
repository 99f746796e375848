using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Native;

/// <summary>
/// CVE-2019-5736: a process in the container that can reach minidocker's own executable (the init and exec's init
/// run it, and a container's `#!/proc/self/exe` script makes exec run it again as the interpreter) can open it through
/// /proc/PID/exe and write to the host's binary once nothing executes it. The stages that run inside a container are
/// started from a read-only bind mount of the executable, made in the spawning thread's own mount namespace (never on
/// the host): /proc/PID/exe then reopens through that mount, and a write fails with EROFS. runc does the same with a
/// read-only overlay; a sealed memfd copy would cost a 7 MB copy per container.
/// </summary>
internal static class ExecutableGuard
{
    /// <summary>Call on the thread that will spawn, after it entered a new mount namespace.</summary>
    public static void MakeReadOnly(string executable)
    {
        // Private first: a bind mount made in a namespace that shares propagation with the host's would appear there.
        Check(mount(null, "/", null, MS_REC | MS_PRIVATE, null), "mount(rprivate)", "/");
        Check(mount(executable, executable, null, MS_BIND, null), "mount(bind)", executable);
        Check(mount(executable, executable, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID, null), "mount(remount ro)", executable);
    }
}
