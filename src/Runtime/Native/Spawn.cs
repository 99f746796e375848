using System.Runtime.InteropServices;
using System.Text;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Native;

/// <summary>
/// Starts a program with glibc's posix_spawn: the fork→exec happens entirely in native code, so no managed code runs
/// in the child. Signal dispositions are reset to default and the mask cleared, because .NET ignores SIGPIPE and an
/// ignored signal survives execve (a container's `yes | head` would otherwise never end).
/// </summary>
internal static unsafe class Spawn
{
    /// <summary>This process's environment as "K=V" strings, for re-executing minidocker in another role.</summary>
    public static List<string> HostEnvironment() =>
        Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}").ToList();

    /// <summary>
    /// Runs <paramref name="enterNamespaces"/> (unshare or setns) and then posix_spawn on a dedicated thread that
    /// does nothing else and then ends: namespaces are per thread, so the rest of this process stays in the host's,
    /// and the child starts in the new ones (PID 1 of a new PID namespace). A thread whose PID namespace for
    /// children differs must not create threads, which is why nothing else runs there.
    /// </summary>
    public static int InNamespaces(Action enterNamespaces, string path, IReadOnlyList<string> argv,
        IReadOnlyList<(int From, int To)> fdMap, string failure)
    {
        var env = HostEnvironment();
        int pid = 0;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                enterNamespaces();
                pid = Start(path, argv, env, fdMap, newSession: false);
            }
            catch (Exception ex) { error = ex; }
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        if (error is not null) throw new ContainerException($"{failure}: {error.Message}", ExitCodes.RuntimeError, error);
        return pid;
    }

    /// <param name="fdMap">pairs (source fd in this process, fd number in the child); every other fd is CLOEXEC in .NET.</param>
    public static int Start(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp,
        IReadOnlyList<(int From, int To)> fdMap, bool newSession)
    {
        // Opaque glibc structs: posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 on x86_64/arm64;
        // over-allocate so a libc with larger ones stays safe.
        void* fa = NativeMemory.AllocZeroed(1024);
        void* attr = NativeMemory.AllocZeroed(1024);
        void* sigset = NativeMemory.AllocZeroed(256);
        using var strings = new NativeStrings();
        // The dup2s run in order in the child: a source fd that is also an earlier target (pidfd 3 → 5 after
        // report pipe → 3) would be overwritten before it is copied. Sources in the target range are first
        // duplicated above it (CLOEXEC, so the copies end with the exec).
        int top = fdMap.Count == 0 ? 0 : fdMap.Max(m => m.To);
        var moved = new List<Fd>();
        try
        {
            Libc.posix_spawn_file_actions_init(fa);
            Libc.posix_spawnattr_init(attr);
            foreach (var (original, to) in fdMap)
            {
                int from = original;
                if (from <= top)
                {
                    var copy = new Fd(Libc.Check(Libc.fcntl(from, Libc.F_DUPFD_CLOEXEC, top + 1), "fcntl(F_DUPFD_CLOEXEC)"));
                    moved.Add(copy);
                    from = copy.Value;
                }
                Check(Libc.posix_spawn_file_actions_adddup2(fa, from, to), "posix_spawn_file_actions_adddup2");
            }
            Libc.sigfillset(sigset);
            Libc.posix_spawnattr_setsigdefault(attr, sigset);
            Libc.sigemptyset(sigset);
            Libc.posix_spawnattr_setsigmask(attr, sigset);
            short flags = (short)(Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSIGMASK);
            if (newSession) flags |= Libc.POSIX_SPAWN_SETSID;
            Libc.posix_spawnattr_setflags(attr, flags);

            byte* cpath = strings.Add(path);
            byte** cargv = strings.AddArray(argv);
            byte** cenv = strings.AddArray(envp);
            int pid;
            Check(Libc.posix_spawn(&pid, cpath, fa, attr, cargv, cenv), "posix_spawn", path);
            return pid;
        }
        finally
        {
            foreach (var copy in moved) copy.Dispose();
            Libc.posix_spawn_file_actions_destroy(fa);
            Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
        }
    }

    // posix_spawn returns the error number instead of setting errno.
    private static void Check(int rc, string call, string? target = null)
    {
        if (rc != 0) throw new SyscallException(call, target, rc);
    }
}

/// <summary>NUL-terminated UTF-8 strings and NULL-terminated pointer arrays in native memory, freed together.</summary>
internal sealed unsafe class NativeStrings : IDisposable
{
    private readonly List<nint> _blocks = new();

    public byte* Add(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        _blocks.Add((nint)p);
        fixed (char* c = s) Encoding.UTF8.GetBytes(c, s.Length, p, n);
        p[n] = 0;
        return p;
    }

    public byte** AddArray(IReadOnlyList<string> items)
    {
        byte** arr = (byte**)NativeMemory.Alloc((nuint)(items.Count + 1), (nuint)sizeof(nint));
        _blocks.Add((nint)arr);
        for (int i = 0; i < items.Count; i++) arr[i] = Add(items[i]);
        arr[items.Count] = null;
        return arr;
    }

    public void Dispose()
    {
        foreach (var b in _blocks) NativeMemory.Free((void*)b);
        _blocks.Clear();
    }
}
