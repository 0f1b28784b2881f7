from inference_client.cli import main

main()
