Console.WriteLine("fabric-node");
