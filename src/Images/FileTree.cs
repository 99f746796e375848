using System.Text;
using MiniDocker.Linux;

namespace MiniDocker.Images;

/// <summary>
/// Directory trees walked and removed through descriptors, one directory at a time, so neither the depth of a tree
/// nor the length of its paths can make the walk fail: an image layer or a crashed import's leftovers may be
/// deeper than PATH_MAX, which path-based APIs (Directory.Delete) cannot remove.
/// </summary>
internal static unsafe class FileTree
{
    private static readonly int ONoFollowDirectory = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;
    private static readonly byte[] DotDot = ".."u8.ToArray();

    /// <summary>The entries of an open directory (without "." and ".."): raw names and getdents64's d_type.</summary>
    public static List<(byte[] Name, byte Type)> Entries(Fd directory) => DirectoryEntries.Read(directory);

    /// <summary>Removes <paramref name="name"/> in <paramref name="parentPath"/> and all below it; a missing name is fine.</summary>
    public static void Remove(string parentPath, string name)
    {
        using var parent = Fd.OpenDirectory(parentPath);
        Remove(parent, Encoding.UTF8.GetBytes(name), Path.Combine(parentPath, name));
    }

    /// <summary>
    /// Depth-first without recursion and with two descriptors at a time: down into the first subdirectory found,
    /// up through ".." once a directory is empty. O_NOFOLLOW on every descent: a symlink is unlinked, never entered.
    /// The tree must be private to the caller (a temp or trash entry), since ".." is trusted to lead back up.
    /// </summary>
    private static void Remove(Fd parent, byte[] top, string display)
    {
        // Not a directory (or a symlink to one): a plain unlink does it.
        if ((Errno)Unlink(parent, top, 0, display) is not Errno.EISDIR)
            return;

        var path = new Stack<byte[]>();
        var current = Open(parent, top, display);
        path.Push(top);
        try
        {
            while (true)
            {
                byte[]? subdirectory = null;
                foreach (var (name, type) in Entries(current))
                {
                    // Unlink first: EISDIR tells a directory when d_type does not (DT_UNKNOWN on some filesystems).
                    if (type == Libc.DT_DIR || Unlink(current, name, 0, display) == Libc.EISDIR)
                    {
                        subdirectory = name;
                        break;
                    }
                }
                if (subdirectory is not null)
                {
                    var below = Open(current, subdirectory, display);
                    current.Dispose();
                    current = below;
                    path.Push(subdirectory);
                    continue;
                }

                // `current` is empty now: go up and remove it.
                var emptied = path.Pop();
                if (path.Count == 0)
                {
                    current.Dispose();
                    Unlink(parent, emptied, Libc.AT_REMOVEDIR, display);
                    return;
                }
                var above = Open(current, DotDot, display);
                current.Dispose();
                current = above;
                Unlink(current, emptied, Libc.AT_REMOVEDIR, display);
            }
        }
        finally
        {
            current.Dispose();
        }
    }

    private static Fd Open(Fd directory, byte[] name, string display)
    {
        fixed (byte* p = NulTerminated(name))
        {
            var fd = Libc.openat(directory.Value, p, ONoFollowDirectory, 0);
            if (fd < 0)
                throw new SyscallException("open", display, Libc.LastErrno);
            return new Fd(fd, display);
        }
    }

    /// <summary>unlinkat; 0 on success or when the name is already gone, EISDIR for a directory, else throws.</summary>
    private static int Unlink(Fd directory, byte[] name, int flags, string display)
    {
        fixed (byte* p = NulTerminated(name))
        {
            if (Libc.unlinkat(directory.Value, p, flags) == 0)
                return 0;
            var errno = Libc.LastErrno;
            if (errno == Libc.ENOENT)
                return 0;
            if (errno == Libc.EISDIR && flags == 0)
                return errno;
            throw new SyscallException(flags == 0 ? "unlink" : "rmdir", display, errno);
        }
    }

    public static byte[] NulTerminated(byte[] name) => DirectoryEntries.NulTerminated(name);
}
