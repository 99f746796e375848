using System.Runtime.InteropServices;
using MiniDocker.Images.Native;
using Tmds.Linux;

namespace MiniDocker.Images;

/// <summary>Bytes a directory tree occupies on disk (allocated blocks, hard links counted once, symlinks not followed).</summary>
internal static class DiskUsage
{
    public static long Of(string path)
    {
        using var root = Fd.OpenDirectory(path);
        var seen = new HashSet<(ulong Dev, ulong Ino)>();
        return Walk(root, path, seen) + Allocated(root, ".", path, seen);
    }

    private static long Walk(Fd directory, string path, HashSet<(ulong, ulong)> seen)
    {
        long total = 0;
        foreach (var child in Directory.EnumerateFileSystemEntries(path))
        {
            var name = Path.GetFileName(child);
            total += Allocated(directory, name, child, seen, out var isDirectory);
            if (!isDirectory)
                continue;
            // O_NOFOLLOW: the tree belongs to an untrusted image; a symlink is sized, never entered.
            using var sub = Fd.OpenAt(directory, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW, 0, child);
            total += Walk(sub, child, seen);
        }
        return total;
    }

    private static long Allocated(Fd directory, string name, string display, HashSet<(ulong, ulong)> seen) =>
        Allocated(directory, name, display, seen, out _);

    private static unsafe long Allocated(Fd directory, string name, string display, HashSet<(ulong, ulong)> seen,
        out bool isDirectory)
    {
        stat st;
        if (Libc.fstatat(directory.Value, name, &st, Libc.AT_SYMLINK_NOFOLLOW) != 0)
            throw Libc.Error("lstat", display, Marshal.GetLastPInvokeError());
        isDirectory = ((ushort)st.st_mode & Libc.S_IFMT) == Libc.S_IFDIR;
        if (!seen.Add(((ulong)st.st_dev, (ulong)st.st_ino)))
            return 0;
        return (long)st.st_blocks * 512;
    }
}
