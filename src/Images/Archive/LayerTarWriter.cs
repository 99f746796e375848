using System.Formats.Tar;
using Microsoft.Win32.SafeHandles;
using MiniDocker.Linux;

namespace MiniDocker.Images.Archive;

/// <summary>
/// A --userns=auto container's id range: its ids 0..Size-1 are host ids Uid.. and Gid.. on disk. Its upper directory
/// holds the host ids; a tar of it (commit, export) holds what the container saw.
/// </summary>
public sealed record HostIdRange(long Uid, long Gid, long Size)
{
    /// <summary>The kernel's overflow id: what the container sees for a host id outside its range.</summary>
    public const int Overflow = 65534;

    public int ToContainerUid(long hostUid) => ToContainer(hostUid, Uid);
    public int ToContainerGid(long hostGid) => ToContainer(hostGid, Gid);
    private int ToContainer(long host, long start) => host >= start && host < start + Size ? (int)(host - start) : Overflow;
}

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
    /// <param name="ids">the range <paramref name="directory"/>'s owners are shifted by (a --userns=auto
    /// container's upper directory), or null</param>
    public static void Write(string directory, Stream output, bool overlayWhiteouts = true, HostIdRange? ids = null)
    {
        using var stable = new StablePaxHeaderStream(output);
        using (var writer = new TarWriter(stable, TarEntryFormat.Pax, leaveOpen: true))
            WriteChildren(writer, directory, "", overlayWhiteouts, ids);
        stable.Flush();
    }

    private static void WriteChildren(TarWriter writer, string directory, string prefix, bool overlayWhiteouts, HostIdRange? ids)
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
                WriteEntry(writer, path, name + "/", ids);
                if (overlayWhiteouts && IsOpaque(path))
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name + "/.wh..wh..opq")
                    {
                        Mode = (UnixFileMode)0x1A4,
                        ModificationTime = mtime,
                    });
                WriteChildren(writer, path, name + "/", overlayWhiteouts, ids);
            }
            else
            {
                WriteEntry(writer, path, name, ids);
            }
        }
    }

    /// <summary>
    /// TarWriter's own entry for the file (unchanged bytes for every tar written before ranges existed), or, with
    /// <paramref name="ids"/>, the same entry built here with the owners mapped back into the container's ids (a
    /// host id outside the range becomes <see cref="HostIdRange.Overflow"/>, as the container saw it) and no owner
    /// names (the host's names of those ids mean nothing in the image; readers then take the numbers).
    /// </summary>
    private static unsafe void WriteEntry(TarWriter writer, string path, string name, HostIdRange? ids)
    {
        if (ids is null)
        {
            writer.WriteEntry(path, name);
            return;
        }
        Tmds.Linux.stat st;
        Libc.Check(Libc.fstatat(Libc.AT_FDCWD, path, &st, Libc.AT_SYMLINK_NOFOLLOW), "lstat", path);
        int type = (int)(uint)st.st_mode & Libc.S_IFMT;
        var entryType = type switch
        {
            _ when type == Libc.S_IFREG => TarEntryType.RegularFile,
            _ when type == Libc.S_IFDIR => TarEntryType.Directory,
            _ when type == Libc.S_IFLNK => TarEntryType.SymbolicLink,
            _ when type == Libc.S_IFCHR => TarEntryType.CharacterDevice,
            _ when type == Libc.S_IFBLK => TarEntryType.BlockDevice,
            _ when type == Libc.S_IFIFO => TarEntryType.Fifo,
            _ => throw new IOException($"cannot put '{path}' in a tar: a socket"), // as TarWriter refuses it
        };
        var entry = new PaxTarEntry(entryType, name)
        {
            Mode = (UnixFileMode)((uint)st.st_mode & 0xFFF),
            Uid = ids.ToContainerUid((uint)st.st_uid),
            Gid = ids.ToContainerGid((uint)st.st_gid),
            ModificationTime = DateTimeOffset.FromUnixTimeSeconds((long)st.st_mtim.tv_sec),
        };
        if (entryType == TarEntryType.SymbolicLink)
            entry.LinkName = new FileInfo(path).LinkTarget ?? "";
        if (entryType is TarEntryType.CharacterDevice or TarEntryType.BlockDevice)
        {
            ulong rdev = (ulong)st.st_rdev; // glibc's dev_t encoding (gnu_dev_major/minor)
            entry.DeviceMajor = (int)(((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffUL));
            entry.DeviceMinor = (int)((rdev & 0xff) | ((rdev >> 12) & ~0xffUL));
        }
        if (entryType != TarEntryType.RegularFile)
        {
            writer.WriteEntry(entry);
            return;
        }
        // O_NOFOLLOW: the name was a regular file at lstat; a symlink put there since is not read through.
        int fd = Libc.Check(Libc.open(path, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0), "open", path);
        using var data = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read);
        entry.DataStream = data;
        writer.WriteEntry(entry);
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
    /// <param name="topIds">the range the owners in <paramref name="topFirst"/>[0] (a --userns=auto container's upper
    /// directory) are shifted by, or null; the image's layers below hold the image's own ids</param>
    public static void WriteMerged(IReadOnlyList<string> topFirst, Stream output, HostIdRange? topIds = null)
    {
        using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        WriteMergedChildren(writer, topFirst, "", topIds);
    }

    private static void WriteMergedChildren(TarWriter writer, IReadOnlyList<string> dirs, string prefix, HostIdRange? topIds)
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
            var ids = layer == 0 ? topIds : null;
            if (type != Libc.S_IFDIR)
            {
                WriteEntry(writer, path, prefix + name, ids);
                continue;
            }
            WriteEntry(writer, path, prefix + name + "/", ids);
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
            // merged[0] is this entry's own directory: the top one's only when the entry came from the top.
            WriteMergedChildren(writer, merged, prefix + name + "/", ids);
        }
    }
}
