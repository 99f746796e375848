using MiniDocker.Linux;
using Tmds.Linux;

namespace MiniDocker.Images;

/// <summary>Bytes a directory tree occupies on disk (allocated blocks, hard links counted once, symlinks not followed).</summary>
/// <remarks>Walked through descriptors (<see cref="FileTree"/>), so the length of paths inside the tree does not matter.
/// Recursive: an imported tree is at most <see cref="SafeTarExtractor.MaxDepth"/> directories deep.</remarks>
internal static class DiskUsage
{
    public static long Of(string path)
    {
        using var root = Fd.OpenDirectory(path);
        var seen = new HashSet<(ulong Dev, ulong Ino)>();
        return Walk(root, seen) + Allocated(root, "."u8.ToArray(), seen, out _);
    }

    private static long Walk(Fd directory, HashSet<(ulong, ulong)> seen)
    {
        long total = 0;
        foreach (var (name, _) in FileTree.Entries(directory))
        {
            total += Allocated(directory, name, seen, out var isDirectory);
            if (!isDirectory)
                continue;
            // O_NOFOLLOW: the tree belongs to an untrusted image; a symlink is sized, never entered.
            using var sub = OpenDirectory(directory, name);
            total += Walk(sub, seen);
        }
        return total;
    }

    private static unsafe Fd OpenDirectory(Fd directory, byte[] name)
    {
        fixed (byte* p = FileTree.NulTerminated(name))
        {
            var fd = Libc.openat(directory.Value, p, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (fd < 0)
                throw new SyscallException("open", Shown(directory, name), Libc.LastErrno);
            return new Fd(fd, Shown(directory, name));
        }
    }

    private static unsafe long Allocated(Fd directory, byte[] name, HashSet<(ulong, ulong)> seen, out bool isDirectory)
    {
        stat st;
        fixed (byte* p = FileTree.NulTerminated(name))
        {
            if (Libc.fstatat(directory.Value, p, &st, Libc.AT_SYMLINK_NOFOLLOW) != 0)
                throw new SyscallException("lstat", Shown(directory, name), Libc.LastErrno);
        }
        isDirectory = ((ushort)st.st_mode & Libc.S_IFMT) == Libc.S_IFDIR;
        if (!seen.Add(((ulong)st.st_dev, (ulong)st.st_ino)))
            return 0;
        return (long)st.st_blocks * 512;
    }

    private static string Shown(Fd directory, byte[] name) => $"{directory.Name}/{System.Text.Encoding.UTF8.GetString(name)}";
}
