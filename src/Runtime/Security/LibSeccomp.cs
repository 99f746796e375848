using System.Runtime.InteropServices;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Security;

/// <summary>
/// Compiles a resolved profile into a classic BPF program with libseccomp (Debian's libseccomp2, by its soname as
/// runc, crun and youki load it). Done once, on the host, when the container is created: the init and exec only
/// hand the finished program to the kernel, and never need the library inside the container's root.
/// </summary>
public static unsafe partial class LibSeccomp
{
    private const string Lib = "libseccomp.so.2";

    [StructLayout(LayoutKind.Sequential)]
    private struct ArgCmp { public uint Arg; public int Op; public ulong DatumA, DatumB; }

    [LibraryImport(Lib)] private static partial nint seccomp_init(uint defaultAction);
    [LibraryImport(Lib)] private static partial void seccomp_release(nint ctx);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial uint seccomp_arch_resolve_name(string name);
    [LibraryImport(Lib)] private static partial uint seccomp_arch_native();
    [LibraryImport(Lib)] private static partial int seccomp_arch_add(nint ctx, uint arch);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int seccomp_syscall_resolve_name(string name);
    [LibraryImport(Lib)] private static partial int seccomp_rule_add_array(nint ctx, uint action, int syscall, uint count, ArgCmp* args);
    [LibraryImport(Lib)] private static partial int seccomp_export_bpf(nint ctx, int fd);
    [LibraryImport(Lib)] private static partial uint* seccomp_version();

    /// <summary>libseccomp's __NR_SCMP_ERROR: a name no architecture knows.</summary>
    private const int UnknownSyscall = -1;

    /// <summary>The BPF program (struct sock_filter[], 8 bytes an instruction) for <paramref name="filter"/>.</summary>
    public static byte[] Compile(ResolvedSeccompFilter filter) => Call(() => CompileWithLibrary(filter));

    /// <summary>"major.minor.micro" of the loaded library (its struct scmp_version).</summary>
    public static string Version() => Call(() =>
    {
        uint* v = seccomp_version();
        return v is null ? "unknown" : $"{v[0]}.{v[1]}.{v[2]}";
    });

    /// <summary>The file libseccomp was loaded from (as /proc/self/maps names it), once a call above loaded it.</summary>
    public static string? LoadedFile()
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash > 0 && line.AsSpan(slash).Contains("/libseccomp.so", StringComparison.Ordinal)) return line[slash..];
        }
        return null;
    }

    private static T Call<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (DllNotFoundException)
        {
            throw new ContainerException($"seccomp: {Lib} not found (apt-get install libseccomp2), or run with --security-opt seccomp=unconfined");
        }
        catch (EntryPointNotFoundException e)
        {
            throw new ContainerException($"seccomp: {Lib} is too old: {e.Message}");
        }
    }

    private static byte[] CompileWithLibrary(ResolvedSeccompFilter filter)
    {
        nint ctx = seccomp_init(filter.DefaultAction);
        if (ctx == 0) throw new ContainerException("seccomp: seccomp_init failed (invalid default action)");
        try
        {
            uint native = seccomp_arch_native();
            foreach (var name in filter.Architectures)
            {
                uint arch = seccomp_arch_resolve_name(name);
                if (arch == 0) throw SeccompResolver.Invalid($"libseccomp does not know the architecture \"{name}\"");
                if (arch == native) continue;
                int rc = seccomp_arch_add(ctx, arch);
                if (rc < 0 && -rc != (int)Errno.EEXIST) throw Failed($"seccomp_arch_add({name})", rc);
            }
            foreach (var rule in filter.Rules)
            {
                // As runc: a name this libseccomp does not know is a system call newer than it, left to the default.
                int nr = seccomp_syscall_resolve_name(rule.Name);
                if (nr == UnknownSyscall || rule.Action == filter.DefaultAction) continue;
                // libseccomp ANDs a rule's conditions; two on one argument are OR-ed instead by giving each its own
                // rule (runc does the same).
                bool repeated = rule.Args.GroupBy(a => a.Index).Any(g => g.Count() > 1);
                var groups = repeated ? rule.Args.Select(a => (IReadOnlyList<SeccompArgCondition>)[a]) : [rule.Args];
                foreach (var conditions in groups)
                {
                    var cmp = conditions.Select(a => new ArgCmp { Arg = a.Index, Op = (int)a.Op, DatumA = a.Value, DatumB = a.ValueTwo }).ToArray();
                    int rc;
                    fixed (ArgCmp* p = cmp) rc = seccomp_rule_add_array(ctx, rule.Action, nr, (uint)cmp.Length, cmp.Length == 0 ? null : p);
                    if (rc < 0) throw Failed($"adding the rule for {rule.Name}", rc);
                }
            }
            return Export(ctx);
        }
        finally
        {
            seccomp_release(ctx);
        }
    }

    private static byte[] Export(nint ctx)
    {
        // A filter is at most BPF_MAXINSNS (4096) instructions, 32 KiB: it fits a pipe's 64 KiB buffer, so one
        // thread can write it all before reading.
        var (read, write) = Fd.Pipe();
        using (read)
        {
            using (write)
            {
                int rc = seccomp_export_bpf(ctx, write.Value);
                if (rc < 0) throw Failed("seccomp_export_bpf", rc);
            }
            using var buffer = new MemoryStream();
            var chunk = new byte[16384];
            while (true)
            {
                nint n;
                fixed (byte* p = chunk) n = Libc.read(read.Value, p, chunk.Length);
                if (n < 0 && Libc.LastErrno == Libc.EINTR) continue;
                if (n < 0) throw SyscallException.Last("read", "seccomp filter");
                if (n == 0) break;
                buffer.Write(chunk, 0, (int)n);
            }
            if (buffer.Length == 0 || buffer.Length % 8 != 0) throw new ContainerException($"seccomp: libseccomp exported {buffer.Length} bytes, not a BPF program");
            return buffer.ToArray();
        }
    }

    private static ContainerException Failed(string what, int rc) =>
        new($"seccomp: {what}: {Marshal.GetPInvokeErrorMessage(-rc).ToLowerInvariant()}");
}
