using MiniDocker.Runtime;

namespace MiniDocker.Runtime.Tests;

public class AtomicFileTests
{
    [Fact]
    public void A_write_replaces_the_file_whole_and_a_failed_one_leaves_no_temp_file_behind()
    {
        string dir = Directory.CreateTempSubdirectory("mdk-atomic-").FullName;
        try
        {
            string file = Path.Combine(dir, "state.json");
            AtomicFile.Write(file, "{\"a\":1}"u8);
            AtomicFile.Write(file, "{\"a\":2}"u8);
            Assert.Equal("{\"a\":2}", File.ReadAllText(file));

            // The rename cannot replace a directory: the write fails after its temp file was made.
            string blocked = Path.Combine(dir, "blocked");
            Directory.CreateDirectory(blocked);
            Assert.ThrowsAny<IOException>(() => AtomicFile.Write(blocked, "x"u8));
            Assert.Equal(["blocked", "state.json"], Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
