using System.Diagnostics;
using System.Text;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Support;

/// <summary>netcat (OpenBSD) in test namespaces: a one-line client and a listener that records each peer.</summary>
internal static class Netcat
{
    /// <summary>Connects, sends one line, closes; exit 0 when the connection was made.</summary>
    public static HostTools.Result Client(TestNamespace ns, string nc, string line, string address, int port, int waitSeconds = 3) =>
        HostTools.Run("/bin/sh", $"-c \"echo {line} | ip netns exec {ns.Name} {nc} -N -w {waitSeconds} {address} {port}\"", timeoutMs: (waitSeconds + 5) * 1000);

    /// <summary>A netcat TCP listener inside a namespace (keeps listening, prints each peer); killed by PID on dispose.</summary>
    internal sealed class Server : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        public Server(TestNamespace ns, string nc, string address, int port)
        {
            var psi = new ProcessStartInfo(HostTools.Require("ip", "iproute2"), $"netns exec {ns.Name} {nc} -lknv {address} {port}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start nc");
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(line);
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
        }
    }
}
