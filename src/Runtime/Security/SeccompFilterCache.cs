using System.Security.Cryptography;
using System.Text;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Security;

/// <summary>
/// Compiled filters by the SHA-256 of what was compiled (the resolved rules and libseccomp's version): libseccomp
/// takes ~70 ms for the default profile's ~440 rules on three architectures, more than the rest of a `run`, while
/// resolving the profile takes under a millisecond. In /run (tmpfs: gone at reboot, with a kernel that may differ),
/// used only while the directories are root's own and not writable by others.
/// </summary>
public static class SeccompFilterCache
{
    public const string DefaultDirectory = "/run/minidocker/seccomp";
    private const int MaxProgramBytes = 4096 * 8; // BPF_MAXINSNS instructions

    public static byte[] GetOrCompile(ResolvedSeccompFilter filter, string libraryVersion, Func<ResolvedSeccompFilter, byte[]> compile,
        string directory = DefaultDirectory)
    {
        string path = Path.Combine(directory, Key(filter, libraryVersion) + ".bpf");
        string parent = Path.GetDirectoryName(directory)!;
        bool usable = (Trusted(parent) || Prepare(parent)) && (Trusted(directory) || Prepare(directory));
        if (usable && TryRead(path) is { } cached) return cached;
        var program = compile(filter);
        if (usable)
        {
            try { AtomicFile.Write(path, program, fsyncDirectory: false, mode: 0b110_000_000); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or MiniDockerException) { /* next run compiles again */ }
        }
        return program;
    }

    public static string Key(ResolvedSeccompFilter filter, string libraryVersion)
    {
        var text = new StringBuilder().Append("v1 ").Append(libraryVersion).Append(' ').Append(filter.DefaultAction)
            .Append(' ').AppendJoin(',', filter.Architectures).Append('\n');
        foreach (var rule in filter.Rules)
        {
            text.Append(rule.Name).Append(' ').Append(rule.Action);
            foreach (var a in rule.Args) text.Append(' ').Append(a.Index).Append(':').Append((int)a.Op).Append(':').Append(a.Value).Append(':').Append(a.ValueTwo);
            text.Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static byte[]? TryRead(string path)
    {
        try
        {
            var program = BoundedFile.Read(path, MaxProgramBytes, path);
            return program is { Length: > 0 } && program.Length % 8 == 0 ? program : null;
        }
        catch (MiniDockerException) { return null; }
    }

    private static bool Prepare(string directory)
    {
        try { Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        return Trusted(directory);
    }

    /// <summary>A real directory (not a link), ours, that nobody else can write to: only we put filters there.</summary>
    private static unsafe bool Trusted(string directory)
    {
        Tmds.Linux.stat st;
        if (Libc.fstatat(Libc.AT_FDCWD, directory, &st, Libc.AT_SYMLINK_NOFOLLOW) != 0) return false;
        return ((int)(uint)st.st_mode & Libc.S_IFMT) == Libc.S_IFDIR && (uint)st.st_uid == Libc.geteuid()
               && ((uint)st.st_mode & 0b000_010_010) == 0;
    }
}
