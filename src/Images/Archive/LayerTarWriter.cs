using System.Formats.Tar;
using MiniDocker.Linux;

namespace MiniDocker.Images.Archive;

/// <summary>
/// Writes a directory in overlay's form (an image layer, a container's upper directory) as an OCI layer tar:
/// a 0/0 character device becomes the whiteout <c>.wh.NAME</c>, a directory with <c>trusted.overlay.opaque=y</c>
/// gets a <c>.wh..wh..opq</c> entry, as Docker's overlay2 driver does when it diffs a layer.
/// </summary>
/// <remarks>
/// Nothing is followed: entries are examined with lstat and a symlink is written as a symlink, so a link planted in
/// a container's upper directory cannot make the writer read a host file. Entries are sorted, so the same tree gives
/// the same bytes (and the same diff id).
/// </remarks>
public static class LayerTarWriter
{
    public static void Write(string directory, Stream output, bool overlayWhiteouts = true)
    {
        using var stable = new StablePaxHeaderStream(output);
        using (var writer = new TarWriter(stable, TarEntryFormat.Pax, leaveOpen: true))
            WriteChildren(writer, directory, "", overlayWhiteouts);
        stable.Flush();
    }

    private static void WriteChildren(TarWriter writer, string directory, string prefix, bool overlayWhiteouts)
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(directory).Order(StringComparer.Ordinal))
        {
            var name = prefix + Path.GetFileName(path);
            var (type, rdev, mtime) = Lstat(path);
            if (overlayWhiteouts && type == Libc.S_IFCHR && rdev == 0)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, prefix + ".wh." + Path.GetFileName(path))
                {
                    Mode = (UnixFileMode)0x1A4,
                    ModificationTime = mtime,
                });
                continue;
            }
            if (type == Libc.S_IFDIR)
            {
                writer.WriteEntry(path, name + "/");
                if (overlayWhiteouts && IsOpaque(path))
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name + "/.wh..wh..opq")
                    {
                        Mode = (UnixFileMode)0x1A4,
                        ModificationTime = mtime,
                    });
                WriteChildren(writer, path, name + "/", overlayWhiteouts);
            }
            else
            {
                writer.WriteEntry(path, name);
            }
        }
    }

    private static unsafe (int Type, ulong Rdev, DateTimeOffset Mtime) Lstat(string path)
    {
        Tmds.Linux.stat st;
        Libc.Check(Libc.fstatat(Libc.AT_FDCWD, path, &st, Libc.AT_SYMLINK_NOFOLLOW), "lstat", path);
        var mtime = DateTimeOffset.FromUnixTimeSeconds((long)st.st_mtim.tv_sec);
        return ((int)(uint)st.st_mode & Libc.S_IFMT, (ulong)st.st_rdev, mtime);
    }

    /// <summary>The file type (S_IFMT bits) without following a link, or 0 when nothing is there.</summary>
    private static unsafe int TypeOrZero(string path)
    {
        Tmds.Linux.stat st;
        return Libc.fstatat(Libc.AT_FDCWD, path, &st, Libc.AT_SYMLINK_NOFOLLOW) == 0 ? (int)(uint)st.st_mode & Libc.S_IFMT : 0;
    }

    private static unsafe bool IsOpaque(string path)
    {
        byte value;
        var n = Libc.lgetxattr(path, "trusted.overlay.opaque", &value, 1);
        return n == 1 && value == (byte)'y';
    }

    /// <summary>
    /// `export`: the merged view of overlay layers <paramref name="topFirst"/> (a container's upper directory, then
    /// its image's layers), computed as overlayfs does without mounting: the topmost entry of a name wins, a 0/0
    /// character device hides the name, an opaque directory hides the directories below it.
    /// </summary>
    public static void WriteMerged(IReadOnlyList<string> topFirst, Stream output)
    {
        using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        WriteMergedChildren(writer, topFirst, "");
    }

    private static void WriteMergedChildren(TarWriter writer, IReadOnlyList<string> dirs, string prefix)
    {
        var chosen = new SortedDictionary<string, (string Path, int Layer)>(StringComparer.Ordinal);
        for (var i = 0; i < dirs.Count; i++)
            foreach (var path in Directory.EnumerateFileSystemEntries(dirs[i]))
                chosen.TryAdd(Path.GetFileName(path), (path, i));
        foreach (var (name, (path, layer)) in chosen)
        {
            var (type, rdev, _) = Lstat(path);
            if (type == Libc.S_IFCHR && rdev == 0)
                continue; // a whiteout: the name is deleted
            if (type != Libc.S_IFDIR)
            {
                writer.WriteEntry(path, prefix + name);
                continue;
            }
            writer.WriteEntry(path, prefix + name + "/");
            var merged = new List<string> { path };
            for (var below = layer + 1; below < dirs.Count && !IsOpaque(merged[^1]); below++)
            {
                var candidate = Path.Combine(dirs[below], name);
                var candidateType = TypeOrZero(candidate);
                if (candidateType == 0)
                    continue;
                if (candidateType != Libc.S_IFDIR)
                    break; // a file or whiteout below ends the directory's lower content
                merged.Add(candidate);
            }
            WriteMergedChildren(writer, merged, prefix + name + "/");
        }
    }
}
