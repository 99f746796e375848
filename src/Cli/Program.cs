System.Console.WriteLine(MiniDocker.Runtime.Probe.P());
