using System.Buffers.Binary;
using System.Text;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Security;

/// <summary>
/// Compiled filters by what was compiled (the resolved rules and libseccomp's version): libseccomp
/// takes ~70 ms for the default profile's ~440 rules on three architectures, more than the rest of a `run`, while
/// resolving the profile takes under a millisecond. In /run (tmpfs: gone at reboot, with a kernel that may differ),
/// used only while the directories are root's own and not writable by others. An entry is named by a 64-bit FNV-1a of
/// its key and holds the key itself, compared in full on a hit: no collision can hand out another rule set's program,
/// and no SHA-256 is needed (on Linux that loads and initialises OpenSSL, a few ms of every `run`; bench/README stop 18).
/// </summary>
public static class SeccompFilterCache
{
    public const string DefaultDirectory = "/run/minidocker/seccomp";
    private const int MaxProgramBytes = 4096 * 8; // BPF_MAXINSNS instructions
    private const int MaxEntryBytes = 4 << 20;

    public static byte[] GetOrCompile(ResolvedSeccompFilter filter, string libraryVersion, Func<ResolvedSeccompFilter, byte[]> compile,
        string directory = DefaultDirectory)
    {
        byte[] key = Encoding.UTF8.GetBytes(Key(filter, libraryVersion));
        string path = Path.Combine(directory, Fnv1a64(key).ToString("x16") + ".bpf");
        string parent = Path.GetDirectoryName(directory)!;
        bool usable = (Trusted(parent) || Prepare(parent)) && (Trusted(directory) || Prepare(directory));
        if (usable && TryRead(path) is var (storedKey, cached) && storedKey.AsSpan().SequenceEqual(key)) return cached;
        var program = compile(filter);
        if (usable) Store(path, key, program);
        return program;
    }

    /// <summary>[key length, 4 bytes little-endian][key][program]; another key with the same name is simply replaced.</summary>
    private static void Store(string path, byte[] key, byte[] program)
    {
        var entry = new byte[4 + key.Length + program.Length];
        BinaryPrimitives.WriteInt32LittleEndian(entry, key.Length);
        key.CopyTo(entry, 4);
        program.CopyTo(entry, 4 + key.Length);
        try { AtomicFile.Write(path, entry, fsyncDirectory: false, mode: 0b110_000_000); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or MiniDockerException) { /* next run compiles again */ }
    }

    /// <summary>
    /// The cheaper door, tried before the profile is even read: the program last built from the same source (see
    /// <see cref="SecurityOptions.SourceKey"/>: the profile file's identity, the capability set, the target, this
    /// binary), if libseccomp is still the same file it was compiled with. A hit skips the 20 KB JSON parse, the
    /// resolution of ~440 rules and the library's dlopen, about 3 ms of every `run` (bench/README, stop 19).
    /// </summary>
    public static byte[]? TryGetBySource(string sourceKey, string directory = DefaultDirectory)
    {
        if (!Trusted(Path.GetDirectoryName(directory)!) || !Trusted(directory)) return null;
        byte[] prefix = Encoding.UTF8.GetBytes(sourceKey + "\n" + LibraryLinePrefix);
        if (TryRead(SourcePath(sourceKey, directory)) is not var (storedKey, program)) return null;
        if (!storedKey.AsSpan().StartsWith(prefix)) return null;
        // The rest is "PATH IDENTITY" of the library the program came from: still that file, or a miss.
        string library = Encoding.UTF8.GetString(storedKey, prefix.Length, storedKey.Length - prefix.Length);
        int space = library.IndexOf(' ');
        if (space <= 0) return null;
        return FileIdentity.Of(library[..space]) == library[(space + 1)..] ? program : null;
    }

    /// <param name="libraryPath">the libseccomp file the program was compiled with (see LibSeccomp.LoadedFile).</param>
    public static void RememberBySource(string sourceKey, string libraryPath, byte[] program, string directory = DefaultDirectory)
    {
        if (FileIdentity.Of(libraryPath) is not { } library || libraryPath.Contains(' ')) return;
        if (!Trusted(Path.GetDirectoryName(directory)!) || !Trusted(directory)) return;
        byte[] key = Encoding.UTF8.GetBytes(sourceKey + "\n" + LibraryLinePrefix + libraryPath + " " + library);
        Store(SourcePath(sourceKey, directory), key, program);
    }

    private const string LibraryLinePrefix = "lib ";

    private static string SourcePath(string sourceKey, string directory) =>
        Path.Combine(directory, "s-" + Fnv1a64(Encoding.UTF8.GetBytes(sourceKey)).ToString("x16") + ".bpf");

    /// <summary>Everything the compiled program depends on, as text.</summary>
    public static string Key(ResolvedSeccompFilter filter, string libraryVersion)
    {
        var text = new StringBuilder().Append("v2 ").Append(libraryVersion).Append(' ').Append(filter.DefaultAction)
            .Append(' ').AppendJoin(',', filter.Architectures).Append('\n');
        foreach (var rule in filter.Rules)
        {
            text.Append(rule.Name).Append(' ').Append(rule.Action);
            foreach (var a in rule.Args) text.Append(' ').Append(a.Index).Append(':').Append((int)a.Op).Append(':').Append(a.Value).Append(':').Append(a.ValueTwo);
            text.Append('\n');
        }
        return text.ToString();
    }

    internal static ulong Fnv1a64(ReadOnlySpan<byte> data)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in data) hash = (hash ^ b) * 1099511628211;
        return hash;
    }

    /// <summary>The entry's key and program, if it is well formed; the caller compares the key.</summary>
    private static (byte[] Key, byte[] Program)? TryRead(string path)
    {
        try
        {
            var entry = BoundedFile.Read(path, MaxEntryBytes, path);
            if (entry is null || entry.Length < 4) return null;
            int keyLength = BinaryPrimitives.ReadInt32LittleEndian(entry);
            if (keyLength <= 0 || keyLength > entry.Length - 4 || entry.Length - 4 - keyLength is not (> 0 and <= MaxProgramBytes)
                || (entry.Length - 4 - keyLength) % 8 != 0)
                return null;
            return (entry[4..(4 + keyLength)], entry[(4 + keyLength)..]);
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
    private static bool Trusted(string directory) => FileIdentity.IsClosed(directory, Libc.S_IFDIR, Libc.geteuid());
}
