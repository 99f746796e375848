using Microsoft.Win32.SafeHandles;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Volumes;

/// <summary>
/// Docker's copy-up: an empty volume mounted at a path the image has is first filled with the image's files there,
/// owners and modes kept (and the volume's root takes the directory's owner and mode). The image's path is resolved
/// inside its root (a symlink in the image cannot point the copy at a host directory); the volume side is written
/// through descriptors, never following a name, since a container sharing the volume may plant symlinks meanwhile.
/// </summary>
public static unsafe class VolumeCopyUp
{
    public static void FromImage(string imageRoot, string target, string volumeData)
    {
        using var root = Fd.Open(imageRoot, O_PATH | O_DIRECTORY);
        int fd = openat2(root.Value, target.TrimStart('/'), (ulong)(O_PATH | O_DIRECTORY | O_CLOEXEC), RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd < 0) return; // the image has no directory there: nothing to copy (Docker)
        string source;
        using (var resolved = new Fd(fd, target)) source = ReadLink($"/proc/self/fd/{resolved.Value}");
        using var destination = Fd.Open(volumeData, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        CopyChildren(source, destination);
        CopyOwnerAndMode(source, destination);
    }

    private static void CopyChildren(string sourceDir, Fd destination)
    {
        foreach (var entry in new DirectoryInfo(sourceDir).EnumerateFileSystemInfos())
        {
            Tmds.Linux.stat st;
            Check(fstatat(AT_FDCWD, entry.FullName, &st, AT_SYMLINK_NOFOLLOW), "stat", entry.FullName);
            int type = (int)(uint)st.st_mode & S_IFMT;
            string name = entry.Name;
            if (type == S_IFDIR)
            {
                Check(mkdirat(destination.Value, name, 0b111_000_000), "mkdir", name);
                using var sub = Fd.OpenAt(destination, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, name);
                CopyChildren(entry.FullName, sub);
                CopyOwnerAndMode(entry.FullName, sub);
            }
            else if (type == S_IFREG)
            {
                using var target = Fd.OpenAt(destination, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0b110_000_000, name);
                using (var input = File.OpenRead(entry.FullName))
                using (var output = new FileStream(new SafeFileHandle(target.Value, ownsHandle: false), FileAccess.Write))
                    input.CopyTo(output);
                CopyOwnerAndMode(entry.FullName, target);
            }
            else if (type == S_IFLNK)
            {
                Check(symlinkat(entry.LinkTarget!, destination.Value, name), "symlink", name);
                Check(fchownat(destination.Value, name, (uint)st.st_uid, (uint)st.st_gid, AT_SYMLINK_NOFOLLOW), "chown", name);
            }
            // Devices, FIFOs and sockets are not in an imported image (the importer skips them) and are not copied.
        }
    }

    /// <summary>chown before chmod: chown clears the set-id bits the mode may carry.</summary>
    private static void CopyOwnerAndMode(string source, Fd destination)
    {
        Tmds.Linux.stat st;
        Check(fstatat(AT_FDCWD, source, &st, AT_SYMLINK_NOFOLLOW), "stat", source);
        Check(fchown(destination.Value, (uint)st.st_uid, (uint)st.st_gid), "chown", destination.Name);
        Check(fchmod(destination.Value, (uint)st.st_mode & 0xFFF), "chmod", destination.Name);
    }

    internal static string ReadLink(string path)
    {
        byte* buffer = stackalloc byte[4096];
        nint n = readlinkat(AT_FDCWD, path, buffer, 4096);
        if (n < 0) throw SyscallException.Last("readlink", path);
        return System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }
}
