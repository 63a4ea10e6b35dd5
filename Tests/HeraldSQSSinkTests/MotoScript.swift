/// The Python helper the tests run with boto3 against moto (written to a temporary file at start).
///
/// `bootstrap ENDPOINT` spends moto's unauthenticated requests (INITIAL_NO_AUTH_ACTION_COUNT=4) on
/// an admin user, an allow-all policy, its attachment and an access key; every other command signs
/// with that key: `COMMAND ENDPOINT KEY SECRET ARGS…`. Output is one JSON document on stdout.
enum MotoScript {
    static let unauthenticatedRequests = 4

    static let source = #"""
        import json, sys
        import boto3
        from botocore.config import Config

        command, endpoint = sys.argv[1], sys.argv[2]
        config = Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=30)

        def client(service, key="unused", secret="unused", token=None):
            return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                                aws_secret_access_key=secret, aws_session_token=token, config=config)

        ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})

        if command == "bootstrap":
            iam = client("iam")
            iam.create_user(UserName="herald-admin")
            arn = iam.create_policy(PolicyName="allow-all", PolicyDocument=ALLOW_ALL)["Policy"]["Arn"]
            iam.attach_user_policy(UserName="herald-admin", PolicyArn=arn)
            key = iam.create_access_key(UserName="herald-admin")["AccessKey"]
            print(json.dumps({"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"], "policyArn": arn}))
            sys.exit(0)

        key, secret, args = sys.argv[3], sys.argv[4], sys.argv[5:]
        if command == "create-queues":
            sqs = client("sqs", key, secret)
            urls = []
            for name in args:
                attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
                urls.append(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
            print(json.dumps(urls))
        elif command == "create-user":
            iam = client("iam", key, secret)
            iam.create_user(UserName=args[0])
            k = iam.create_access_key(UserName=args[0])["AccessKey"]
            print(json.dumps({"accessKeyId": k["AccessKeyId"], "secretAccessKey": k["SecretAccessKey"]}))
        elif command == "create-key":
            k = client("iam", key, secret).create_access_key(UserName=args[0])["AccessKey"]
            print(json.dumps({"accessKeyId": k["AccessKeyId"], "secretAccessKey": k["SecretAccessKey"]}))
        elif command == "delete-key":
            client("iam", key, secret).delete_access_key(UserName=args[0], AccessKeyId=args[1])
            print("{}")
        elif command == "attach-policy":
            client("iam", key, secret).attach_user_policy(UserName=args[0], PolicyArn=args[1])
            print("{}")
        elif command == "session-credentials":
            iam, sts = client("iam", key, secret), client("sts", key, secret)
            trust = json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
            role = iam.create_role(RoleName="herald-sender", AssumeRolePolicyDocument=trust)["Role"]
            iam.put_role_policy(RoleName="herald-sender", PolicyName="allow-all", PolicyDocument=ALLOW_ALL)
            c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="herald-test")["Credentials"]
            print(json.dumps({"accessKeyId": c["AccessKeyId"], "secretAccessKey": c["SecretAccessKey"],
                              "sessionToken": c["SessionToken"]}))
        elif command == "receive":
            sqs = client("sqs", key, secret)
            out, empty = [], 0
            while empty < 2:
                r = sqs.receive_message(QueueUrl=args[0], MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                        MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
                messages = r.get("Messages", [])
                empty = empty + 1 if not messages else 0
                for m in messages:
                    system = m.get("Attributes", {})
                    out.append({"body": m["Body"],
                                "attributes": {n: a.get("StringValue") for n, a in m.get("MessageAttributes", {}).items()},
                                "groupId": system.get("MessageGroupId"),
                                "deduplicationId": system.get("MessageDeduplicationId")})
                    sqs.delete_message(QueueUrl=args[0], ReceiptHandle=m["ReceiptHandle"])
            print(json.dumps(out))
        else:
            sys.exit("unknown command " + command)
        """#
}
