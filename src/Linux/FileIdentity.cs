using Tmds.Linux;

namespace MiniDocker.Linux;

/// <summary>
/// A file's identity for caches keyed by a file instead of its content: device, inode, size, and mtime and ctime to
/// the nanosecond. Any write changes ctime, and ctime cannot be set back from user space, so a new identity follows
/// every change; only who may change the file (see <see cref="OnlyRootCanChange"/>) decides whether that is enough.
/// </summary>
public static unsafe class FileIdentity
{
    /// <summary>The identity of the file <paramref name="path"/> resolves to, or null if it cannot be stat'ed.</summary>
    public static string? Of(string path)
    {
        stat st;
        if (Libc.fstatat(Libc.AT_FDCWD, path, &st, 0) != 0) return null;
        return $"{(ulong)st.st_dev}:{(ulong)st.st_ino} {(long)st.st_size} {(long)st.st_mtim.tv_sec}.{(long)st.st_mtim.tv_nsec} {(long)st.st_ctim.tv_sec}.{(long)st.st_ctim.tv_nsec}";
    }

    /// <summary>
    /// True when <paramref name="path"/> is a regular file and it and every directory above it are root's and not
    /// writable by group or others, with no symbolic link on the way: then nobody but root can change what the path
    /// names, or swap in another file between a cache's stat and its read. A "." or ".." segment gives false: the
    /// kernel resolves ".." after what the previous segment is, which a check of the lexically shortened path would not
    /// see (a/link/../f is f beside the link's target, not a/f).
    /// </summary>
    public static bool OnlyRootCanChange(string path)
    {
        string full = Path.IsPathRooted(path) ? path : Path.Combine(Environment.CurrentDirectory, path);
        if (full.Split('/').Any(segment => segment is "." or "..")) return false;
        if (!IsClosed(full, Libc.S_IFREG, owner: 0)) return false;
        for (string? directory = Path.GetDirectoryName(full); directory is not null; directory = Path.GetDirectoryName(directory))
            if (!IsClosed(directory, Libc.S_IFDIR, owner: 0)) return false;
        return true;
    }

    /// <summary><paramref name="path"/> itself (a link is not followed) is of <paramref name="type"/> (S_IFREG,
    /// S_IFDIR), owned by <paramref name="owner"/>, and not writable by group or others.</summary>
    public static bool IsClosed(string path, int type, uint owner)
    {
        stat st;
        if (Libc.fstatat(Libc.AT_FDCWD, path, &st, Libc.AT_SYMLINK_NOFOLLOW) != 0) return false;
        return ((int)(uint)st.st_mode & Libc.S_IFMT) == type && (uint)st.st_uid == owner && ((uint)st.st_mode & 0b000_010_010) == 0;
    }
}
